"""Names the English NER misses: lower case, diacritics and particles, other scripts.

Why: spaCy's English model finds `Bartholomew Quist` but not `krzysztof wojciechowski`,
`Björn Älvström`, `María de la Cruz`, `Nguyễn Văn An`, `Иван Петров` or `王小明`. No
multilingual NER model is on PyPI for us (spaCy's `xx_ent_wiki_sm` ships from a model hub,
which collect may not reach), so three cheap rules, measured in docs/hardening.md:

1. gazetteer: a first name from `gender-guesser`'s 45k-name list of many countries (minus
   common English words: "will", "mark", "rose") followed by a word that is not common
   English, with particles (de, la, van, bin, ...) between → the whole name;
2. context: after "my name is", "agent", "Mr", "passenger", ... the next words that are not
   common English;
3. script: inside Latin-script text, a run of Cyrillic, Greek, Arabic, Hebrew, Devanagari or
   Thai words, a Han run of 2-4 characters, a Hangul word: English posts quote foreign script
   almost only for names. Texts mostly in another script get rule 3 only for capitalised
   Cyrillic/Greek pairs (a Russian sentence is not redacted whole).

A lone first name still stays (the staff-kudos rule, docs/hardening.md).
"""

from __future__ import annotations

import functools
import re

from opinion.clean.pii_patterns import _all_first_names, any_first_name, common_word

__all__ = ["any_first_name", "find_names", "looks_like_name"]

PARTICLES = frozenset(
    [
        "de",
        "la",
        "del",
        "della",
        "di",
        "da",
        "das",
        "dos",
        "do",
        "du",
        "le",
        "van",
        "von",
        "der",
        "den",
        "ter",
        "ten",
        "bin",
        "ibn",
        "al",
        "el",
        "ben",
        "y",
        "e",
        "af",
        "zu",
        "mac",
        "st",
    ]  # noqa: SIM905
)
_WORD = re.compile(r"[^\W\d_][^\W\d_'’\-]*(?:['’\-][^\W\d_]+)*")
_CONTEXT = re.compile(
    r"(?i)\b(?:my\s+name\s+is|name\s*:|i\s+am|i'?m|this\s+is|mr|mrs|ms|miss|mx|dr|sir|madam|"
    r"agent|passenger|pax|captain|capt|pilot|steward(?:ess)?|attendant|purser|employee|"
    r"supervisor|manager|rep|representative|signed|regards|sincerely|contact|named|called|"
    r"customer|traveller|traveler|colleague|staff\s+member|crew\s+member)\b\.?[\s:,]+"
)
_WORD_HONORIFICS = frozenset({"miss", "sir", "madam"})  # honorifics only when capitalised
_HONORIFIC = re.compile(r"(?i)^(?:mr|mrs|ms|miss|mx|dr|sir|madam)\b")
# scripts whose words, inside Latin text, are names: Cyrillic, Greek, Arabic, Hebrew,
# Devanagari, Thai, Georgian, Armenian
_FOREIGN_WORDS = re.compile(
    r"[\u0370-\u03ff\u0400-\u04ff\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u0750-\u077f"
    r"\u0900-\u097f\u0e00-\u0e7f\u10a0-\u10ff]+(?:[\s\-][\u0370-\u03ff\u0400-\u04ff"
    r"\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u0900-\u097f\u0e00-\u0e7f"
    r"\u10a0-\u10ff]+){0,3}"
)
_HAN = re.compile(
    r"(?<![\u3400-\u9fff])[\u3400-\u9fff]{2,4}(?:[·・ ][\u3400-\u9fff]{1,3})?(?![\u3400-\u9fff])"
)  # noqa: E501
_HANGUL = re.compile(
    r"(?<![\uac00-\ud7a3])[\uac00-\ud7a3]{2,4}(?:\s[\uac00-\ud7a3]{1,3})?(?![\uac00-\ud7a3])"
)  # noqa: E501
_KANA = re.compile(r"[\u3040-\u30ff]{2,8}(?:[\s・][\u3040-\u30ff]{2,8})?")
_CAP_PAIR = re.compile(
    r"(?<!\w)[\u0400-\u042f\u0391-\u03a9Ё][\u0400-\u04ff\u0370-\u03ff]+"
    r"(?:\s+[\u0400-\u042f\u0391-\u03a9Ё][\u0400-\u04ff\u0370-\u03ff]+)+"
)
# capitalised words with Vietnamese letters: "Nguyễn Văn An"
_VIET = re.compile(r"(?<!\w)[A-ZĐ][^\W\d_]*(?:\s+[A-ZĐ][^\W\d_]*)+(?!\w)")
_VIET_CHARS = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĐ]", re.I)


@functools.cache
def first_names() -> frozenset[str]:
    """First names of many countries (gender-guesser's list), lower case, without the ones
    that are common English words."""
    names = {n for n in _all_first_names() if len(n) > 2 and not common_word(n)}
    folded = {_fold(n) for n in names}  # "thé", "öne", "còme" fold to common words
    return frozenset(names | {n for n in folded if not common_word(n)})


_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"})


def _fold(word: str) -> str:
    """`word` without diacritics ("małgorzata" → "malgorzata": people type names bare)."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_LATIN_WORD = re.compile(r"(?<!\w)[A-Za-z\u00c0-\u024f]{2,}(?!\w)")


def _latin_text(text: str) -> bool:
    """Mostly Latin script, or at least three Latin words (an English post quoting names)."""
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c < "\u0250" for c in letters) >= len(letters) / 2:
        return True
    return len(_LATIN_WORD.findall(text)) >= 3


def _name_tail(words: list[re.Match[str]], i: int, keep: frozenset[str]) -> int:
    """Index after the name words that follow position `i` (particles allowed between)."""
    j, end = i, i
    while j < len(words) and j - i < 5:
        w = words[j].group(0).lower()
        if w in PARTICLES:
            j += 1
            continue
        if common_word(w) or w in keep:
            break
        j += 1
        end = j
    return end


def shouting(text: str) -> bool:
    """Mostly upper-case letters: all-caps words are then words, not codes."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) > 0.6 * len(letters)


def _add(
    spans: list[tuple[int, int]],
    text: str,
    start: int,
    end: int,
    shout: bool,
    least: int = 2,
    initial: bool = True,
) -> None:
    """Append the span's name part (`not_personal.name_span`) when it is still a name."""
    from opinion.clean.not_personal import name_span

    span = name_span(text, start, end, shout, least, initial)
    if span is not None:
        spans.append(span)


def find_names(text: str, keep: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """(start, end) spans of names in `text` by the three rules above."""
    found: list[tuple[int, int, int, bool]] = []  # (start, end, least, initial) for `_add`
    words = list(_WORD.finditer(text))
    firsts = first_names()
    for i, m in enumerate(words):
        w = m.group(0).lower()
        if w in firsts and w not in keep and i + 1 < len(words):
            gap = text[m.end() : words[i + 1].start()]
            if gap.strip(" ") == "":
                end = _name_tail(words, i + 1, keep)
                if end > i + 1:
                    found.append((m.start(), words[end - 1].end(), 2, True))
    for c in _CONTEXT.finditer(text):
        after = [w for w in words if w.start() >= c.end()]
        if not after or after[0].start() - c.end() > 2:
            continue
        end = _name_tail(after, 0, keep)
        honorific = _HONORIFIC.match(c.group(0))
        if honorific and (
            not after[0].group(0)[:1].isupper()
            or (honorific.group(0).lower() in _WORD_HONORIFICS and c.group(0)[0].islower())
        ):
            continue  # "miss intl flight", "Major miss. Unfriendly crew": "miss" is a word
        if honorific and end == 0:
            end = 1  # "Mr Smith": a surname after an honorific, common word or not
        if end >= 2 or (end == 1 and honorific):
            least = 1 if honorific else 2
            found.append((after[0].start(), after[end - 1].end(), least, False))
    plain = text.isascii()  # (most posts) no Vietnamese letters, no other script
    for m in () if plain else _VIET.finditer(text):
        if _VIET_CHARS.search(m.group(0)):
            found.append((*m.span(), 2, True))
    spans: list[tuple[int, int]] = []
    if found:
        shout = shouting(text)
        for start, end, least, initial in found:
            _add(spans, text, start, end, shout, least, initial)
    if plain:
        return spans
    if _latin_text(text):
        for pattern in (_FOREIGN_WORDS, _HAN, _HANGUL, _KANA):
            spans += [m.span() for m in pattern.finditer(text)]
    else:
        spans += [m.span() for m in _CAP_PAIR.finditer(text)]
    return spans


def looks_like_name(words: list[str]) -> bool:
    """An NER PERSON span that could be a name: no digits, no all-caps codes (UA5, LHR-IAH),
    not only common English words unless it starts with a known first name ("Embassy
    Suites" and "Galaxy S4" are not people; "Rose Baker" is)."""
    for w in words:
        if any(c.isdigit() for c in w) or (len(w) > 1 and w.isupper()):
            return False
    if all(common_word(w) for w in words):
        return any_first_name(words[0])
    return True
