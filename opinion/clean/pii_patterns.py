"""Pattern recognisers for the personal data Presidio's stock set misses (issue #28).

Why: an airline CX corpus carries booking references, e-ticket and frequent-flyer numbers,
passports and national ids, and people spell out e-mails (`jan dot kowal at gmail dot com`)
to dodge filters. Each rule here is a regex whose group `v` is the value to redact, with an
optional validator (Luhn, IBAN mod 97, PESEL, DNI, ...). Values that only make sense near a
word ("passport", "MileagePlus") carry that word in the regex itself: Presidio's context
enhancer is off (quadratic cost, docs/hardening.md), so context is part of the pattern.

The regexes are case-sensitive unless they say `(?i)`: a case-insensitive address pattern
took `$150 one way` for a street.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RULES", "Rule", "common_word"]


@dataclass(frozen=True)
class Rule:
    entity: str
    regex: re.Pattern[str]
    score: float = 0.8
    validate: Callable[[str], bool] | None = None


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def luhn(value: str) -> bool:
    digits = [int(c) for c in _digits(value)]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    s = re.sub(r"[\s\-]", "", value).upper()
    if not 15 <= len(s) <= 34 or not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def ssn_ok(value: str) -> bool:
    d = _digits(value)
    area, group, serial = d[:3], d[3:5], d[5:]
    return (
        len(d) == 9 and area not in ("000", "666") and area[0] != "9" and group != "00"
    ) and serial != "0000"


def pesel_ok(value: str) -> bool:
    d = [int(c) for c in value]
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    return (10 - sum(w * x for w, x in zip(weights, d, strict=False)) % 10) % 10 == d[10]


def dni_ok(value: str) -> bool:
    v = value.upper().replace("-", "").replace(" ", "")
    v = {"X": "0", "Y": "1", "Z": "2"}.get(v[0], v[0]) + v[1:]
    return v[:8].isdigit() and "TRWAGMYFPDXBNJZSQVHLCKE"[int(v[:8]) % 23] == v[8]


def cn_id_ok(value: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(value[:17], weights, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


@functools.cache
def _common_words() -> frozenset[str]:
    """English words frequent enough that they are not a name or a code (spaCy's lexeme
    probabilities from spacy-lookups-data, already a dependency), plus spaCy's stop words."""
    import gzip
    import json
    from pathlib import Path

    import spacy_lookups_data
    from spacy.lang.en.stop_words import STOP_WORDS

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        probs = json.load(fh)
    return frozenset(w for w, p in probs.items() if p > COMMON_LOGPROB) | frozenset(STOP_WORDS)


COMMON_LOGPROB = -14.5  # "embassy" -13.3, "suites" -14.2 are common; "gonzalez" -17.1 is not


#: gender-guesser's frequency columns for Great Britain, Ireland and the USA, and the level
#: (1 = rare … 13) from which a common English word counts as a first name in English text
_ENGLISH_COLUMNS, _ENGLISH_LEVEL = (0, 1, 2), 2


@functools.cache
def _all_first_names() -> frozenset[str]:
    """Every gazetteer first name, except common English words that are no first name in
    English-speaking countries: "Take", "Core", "Woo", "Kit" are names somewhere (Japan, the
    Netherlands, Korea), but in an English sentence they are words ("to Take Off", "Woo
    Hoo"); "Rose", "Grace", "Will", "Bill" stay names."""
    from gender_guesser.detector import Detector

    common = _common_words()
    out = set()
    for name, genders in Detector(case_sensitive=False).names.items():
        low = str(name).lower()
        if low in common and _english_level(genders) < _ENGLISH_LEVEL:
            continue
        out.add(low)
    return frozenset(out)


def _english_level(genders: dict) -> int:
    best = 0
    for freq in genders.values():
        for col in _ENGLISH_COLUMNS:
            ch = freq[col] if col < len(freq) else " "
            best = max(best, int(ch, 16) if ch.strip() else 0)
    return best


def any_first_name(word: str) -> bool:
    """`word` is a first name somewhere, common English word or not ("Rose", "Grace")."""
    return word.lower() in _all_first_names()


def common_word(word: str) -> bool:
    return word.lower() in _common_words()


def _not_common(value: str) -> bool:
    return any(c.isdigit() for c in value) or not common_word(value)


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


# a flight number or aircraft type (UA5, AA1234, B737, A320neo): never a booking reference
_FLIGHT = re.compile(r"(?i)^(?:[A-Z]{1,3}\d{1,4}[A-Z]?|\d[A-Z]\d{1,4}|[A-Z]\d[A-Z]?\d{1,4})$")


def _booking_ok(value: str) -> bool:
    return not _FLIGHT.match(value) and _not_common(value)


# a US aircraft registration (FAA: N, a digit 1-9, up to 5 characters, letters last, no I/O):
# "Flight 1447 (N351JB)", "the new tail N598JB"; only a booking with a booking word before it
_TAIL = re.compile(r"^N[1-9]\d{0,4}[A-HJ-NP-Z]{0,2}$")


def _booking_bare_ok(value: str) -> bool:
    letters = sum(c.isalpha() for c in value)
    shaped = _FLIGHT.match(value) or _TAIL.match(value)
    return letters >= 2 and _has_digit(value) and not shaped


def _number_ok(value: str) -> bool:
    """A membership, passport or id number after its word is mostly digits ("AB1234567",
    "7H2K4L9"), not a word with a digit in it (`#trueblue member4life`)."""
    digits = sum(c.isdigit() for c in value)
    return digits >= 4 or 2 * digits >= sum(c.isalnum() for c in value)


# filler between a context word and its value: "number", "no.", "#", ":", "is", "my", ...
_FILL = (
    r"(?:[\s:#=.\-]*(?:number|numbers|num|no|nr|code|id|ref|reference|is|was|:|#|=)\b)*[\s:#=.\-]*"  # noqa: E501
)
_TOKEN = r"[A-Za-z0-9]*\d[A-Za-z0-9]*(?:[ \-.]\d[A-Za-z0-9]*){0,4}"
_BOOKING_CTX = (
    r"(?i:\b(?:booking|confirmation|conf|reservation|record\s+locator|locator|pnr|res)\b)"
)
_FF_CTX = (
    r"(?i:frequent[\s\-]*fl(?:y|i)er|\bff\b|\bffn\b|mileage\s*plus|skymiles|aadvantage|"
    r"rapid\s*rewards|true\s*blue|trueblue|miles\s*(?:&|and)\s*more|flying\s*blue|"
    r"executive\s+club|avios|elevate|loyalty|membership|member|mileage|miles\s+account)"
)
_PASSPORT_CTX = r"(?i:passport|passeport|reisepass|pasaporte|paszport|passaporto)"
_NATID_CTX = (
    r"(?i:national\s+id|id\s+card|identity\s+card|\bid\b|dni|nie|pesel|cpr|personnummer|"
    r"henkilötunnus|hetu|aadhaar|insee|codice\s+fiscale|bsn|steuer-?id|personalausweis|"
    r"carte\s+d'identit[ée]|nif|cnp|social\s+security|\bssn\b|\bsin\b|tax\s+id|driver'?s?\s+licen[cs]e)"  # noqa: E501
)
_TLD = (
    r"(?:com|net|org|edu|gov|info|biz|io|co|uk|us|ca|au|de|fr|pl|ch|fm|nl|be|se|no|dk|fi|"
    r"it|es|pt|ru|ua|cz|sk|at|ie|jp|cn|kr|br|mx|ar|in|eu|me|tv|ly|online|email|mail)"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_+\-]{0,40}[A-Za-z0-9])?"
_DOT = r"(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\.)"
_AT = r"(?:\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+|\s*@\s*)"


def _spelled_email_ok(value: str) -> bool:
    """A spelled-out e-mail, not prose ("check in at united.com", "me at home.it"): the
    plain " at " form needs a local part that is not a common word."""
    if re.search(r"(?i)[(\[{<]\s*(?:at|dot)\s*[)\]}>]|@|\sdot\s", value):
        return True
    local = re.split(r"(?i)\s+at\s+", value, maxsplit=1)[0]
    return not common_word(local.split(".")[0])


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


RULES: tuple[Rule, ...] = (
    # e-mails written to dodge filters
    Rule(
        "EMAIL_ADDRESS",
        _c(rf"(?i)(?<![\w.@])(?P<v>{_LABEL}(?:{_DOT}{_LABEL}){{0,3}}{_AT}{_LABEL}"
           rf"(?:{_DOT}{_LABEL}){{0,3}}{_DOT}{_TLD})\b"),
        0.9,
        _spelled_email_ok,
    ),  # fmt: skip
    # cards with dots or any separator, Luhn-checked
    Rule("CREDIT_CARD", _c(r"(?<![\d.])(?P<v>\d{4}(?:[ .\-/]?\d{4}){2}[ .\-/]?\d{1,7})(?![\d])"), 0.9, luhn),  # noqa: E501
    # IBAN in lower or mixed case, spaced or not, mod-97 checked
    Rule("IBAN_CODE", _c(r"(?i)\b(?P<v>[a-z]{2}\d{2}(?:[ \-]?[a-z0-9]{4}){2,7}(?:[ \-]?[a-z0-9]{1,4})?)\b"), 0.9, iban_ok),  # noqa: E501
    # SSN without separators (structure-checked)
    Rule("US_SSN", _c(r"(?<![\w.\-+])(?P<v>\d{9})(?![\w\-]|\.\d)"), 0.5, ssn_ok),
    Rule("US_SSN", _c(r"(?<![\w.\-+])(?P<v>\d{3}[ .]\d{2}[ .]\d{4})(?![\w\-]|\.\d)"), 0.6, ssn_ok),
    # mainland China mobile, bare or +86
    Rule("PHONE_NUMBER", _c(r"(?<![\w+])(?P<v>(?:\+?86[ \-]?)?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4})(?!\d)"), 0.7),  # noqa: E501
    # booking references / PNRs: after a context word, or a bare 6-char code with digits
    Rule("BOOKING_REF", _c(rf"{_BOOKING_CTX}{_FILL}(?P<v>[A-Za-z0-9]{{5,8}})\b"), 0.8, _booking_ok),
    Rule("BOOKING_REF", _c(r"(?<![\w#@\-/.])(?P<v>[A-Z0-9]{6})(?![\w\-/])"), 0.6, _booking_bare_ok),
    # e-tickets: 13 digits (airline prefix + 10), often 3-10 split
    Rule("TICKET_NUMBER", _c(r"(?<![\w.])(?P<v>\d{3}[ \-]?\d{10}(?:[ \-/]\d{1,2})?)(?![\w])"), 0.8),
    Rule("FREQUENT_FLYER", _c(rf"{_FF_CTX}{_FILL}(?P<v>{_TOKEN})"), 0.8, _number_ok),
    Rule("PASSPORT", _c(rf"{_PASSPORT_CTX}{_FILL}(?P<v>{_TOKEN})"), 0.8, _number_ok),
    Rule("NATIONAL_ID", _c(rf"{_NATID_CTX}{_FILL}(?P<v>{_TOKEN})"), 0.8, _number_ok),
    Rule("NATIONAL_ID", _c(r"(?<![\w.])(?P<v>\d{11})(?![\w])"), 0.6, pesel_ok),
    Rule("NATIONAL_ID", _c(r"(?i)(?<![\w])(?P<v>[XYZ]?\d{7,8}-?[A-Z])\b"), 0.7, dni_ok),
    Rule("NATIONAL_ID", _c(r"(?i)\b(?P<v>[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z])\b"), 0.9),
    Rule("NATIONAL_ID", _c(r"(?<![\w])(?P<v>\d{17}[\dXx])(?![\w])"), 0.8, cn_id_ok),
    Rule("NATIONAL_ID", _c(r"(?<![\w.])(?P<v>\d{4} \d{4} \d{4})(?![\w]| \d)"), 0.6),
    Rule("NATIONAL_ID", _c(r"(?<![\w.])(?P<v>\d{6}[\-+A]\d{3}[0-9A-Y])(?![\w])"), 0.7),
    Rule("NATIONAL_ID", _c(r"(?<![\w.])(?P<v>[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2})(?![\w])"), 0.7),  # noqa: E501
    # crypto wallets: bech32, Ethereum, base58 (BTC legacy, LTC, TRON), Monero
    Rule("CRYPTO", _c(r"(?i)\b(?P<v>(?:bc1|tb1|ltc1)[a-z0-9]{25,62})\b"), 0.9),
    Rule("CRYPTO", _c(r"\b(?P<v>0x[a-fA-F0-9]{40})\b"), 0.9),
    Rule("CRYPTO", _c(r"\b(?P<v>[13LMT][1-9A-HJ-NP-Za-km-z]{25,34})\b"), 0.7, lambda v: bool(re.search(r"\d", v) and re.search(r"[a-z]", v) and re.search(r"[A-Z].*[A-Z]", v))),  # noqa: E501
    Rule("CRYPTO", _c(r"\b(?P<v>[48][1-9A-HJ-NP-Za-km-z]{94})\b"), 0.9),
    # European street addresses: German/Dutch "Hauptstraße 12", French "12 rue de la Paix",
    # Polish "ul. Marszałkowska 10/12", Spanish/Italian "Calle Mayor 5", "Via Roma 10"
    Rule("STREET_ADDRESS", _c(r"(?P<v>\b(?:[A-ZÄÖÜ][\wäöüß\-]+[ \-])?[A-ZÄÖÜ]?[\wäöüß\-]*(?:straße|strasse|str\.|Straße|Strasse|weg|gasse|platz|allee|damm|ufer|chaussee|straat|laan|gracht|plein|steeg)\s+\d{1,4}\s?[a-zA-Z]?(?:/\d{1,4})?)\b"), 0.7),  # noqa: E501
    Rule("STREET_ADDRESS", _c(r"(?i)(?P<v>\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|allee|impasse|quai|route|cours|faubourg)\s+(?:(?:de|du|des|la|le|l'|d')\s*)*[\w'’\-]+(?:[ \-][A-ZÉÈ][\w'’\-]+){0,3})"), 0.7),  # noqa: E501
    Rule("STREET_ADDRESS", _c(r"(?P<v>\b(?:ul\.|ulica|al\.|aleja|pl\.|plac|os\.|calle|c/|avda\.|avenida|via|viale|piazza|corso|rua|travessa)\s*[A-ZŁŚŻŹĆŃÓÁÉÍÚ][\wąćęłńóśźżáéíú\-]*(?:\s+[A-ZŁŚŻŹĆŃÓÁÉÍÚa-z][\wąćęłńóśźżáéíú\-]*){0,3},?\s+(?:n[º°o.]\s*)?\d{1,4}[a-zA-Z]?(?:/\d{1,4})?)\b"), 0.7),  # noqa: E501
)  # fmt: skip

#: The placeholder of each entity type added here.
PLACEHOLDERS = {
    "BOOKING_REF": "[booking]",
    "TICKET_NUMBER": "[ticket]",
    "FREQUENT_FLYER": "[ff-number]",
    "PASSPORT": "[passport]",
    "NATIONAL_ID": "[id]",
    "CRYPTO": "[wallet]",
}


def find(text: str, entities: set[str] | None = None) -> list[tuple[str, int, int, float]]:
    """(entity, start, end, score) of every rule's validated hit in `text`."""
    out = []
    for rule in RULES:
        if entities is not None and rule.entity not in entities:
            continue
        for m in rule.regex.finditer(text):
            value = m.group("v")
            if rule.validate is None or rule.validate(value):
                out.append((rule.entity, m.start("v"), m.end("v"), rule.score))
    return out
