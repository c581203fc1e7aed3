"""Privacy: pseudonymous authors and PII-free text, applied before anything is stored.

Why: we analyse opinions about brands, not people. Author names become salted hashes (stable
within one deployment so per-author dedupe and spam checks still work, useless elsewhere).
Personal data in text is found by Microsoft Presidio (`presidio-analyzer`, maintained
recognizers with checksums: e-mail, phone numbers of many countries via `phonenumbers`, card
numbers (Luhn), IBAN, IP, US SSN) plus three recognizers of ours registered in the same engine
(URLs that carry credentials or a query, street addresses, separator-formatted NANP numbers
`phonenumbers` calls invalid, e.g. 555 numbers), and PERSON names from the project's spaCy
pipeline (`opinion.spacy_pipeline.load_spacy`, the already-loaded object: no second copy).

Choices (docs/hardening.md):
* PERSON: full names (two or more words) become `[person]`; a lone first name stays, because
  CX teams use staff first names for kudos ("Maria at gate C4 was great") and a first name
  alone does not identify anyone. Spans naming a brand (handle or alias word) are kept.
* URLs keep scheme://host/path (the link still says which page): user:password@, query and
  fragment go. Brand @handles are kept (brand linking keys on them); other @handles → `@user`.
* Cost (issue #25): NER reads only windows around capitalised word pairs that could be a
  redacted name (`opinion.clean.name_windows`), in one `nlp.pipe` per batch with only `ner`
  enabled. A string goes to Presidio only when some recognizer can match it: a cheap shape
  check per entity type (`_entities_for`), then each pattern recognizer's own regexes
  (`_may_find`, exact). Everything else only gets its @handles checked. `opinion bench`
  reports posts/s; `Redactor.stats` counts the work.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence

from opinion.clean.names import looks_like_name as _looks_like_name
from opinion.clean.names import shouting
from opinion.clean.not_personal import (
    date_like,
    name_span,
    not_a_handle,
    org_handle,
    role_email,
    toll_free,
)
from opinion.clean.pii_patterns import PLACEHOLDERS as _RULE_PLACEHOLDERS
from opinion.clean.pii_patterns import RULES
from opinion.clean.urls import clean_url

__all__ = [
    "Redactor",
    "clean_url",
    "hash_author",
    "redact",
    "reject_digest",
    "safe_reason",
]

#: Replacement per Presidio entity type.
PLACEHOLDERS = {
    "EMAIL_ADDRESS": "[email]",
    "PHONE_NUMBER": "[phone]",
    "CREDIT_CARD": "[card]",
    "IBAN_CODE": "[iban]",
    "IP_ADDRESS": "[ip]",
    "US_SSN": "[ssn]",
    "UK_NINO": "[id]",
    "STREET_ADDRESS": "[address]",
    "PERSON": "[person]",
    "NAME": "[person]",
    **_RULE_PLACEHOLDERS,
}
PHONE_REGIONS = ("US", "GB", "FR", "DE", "ES", "IT", "IE", "NL", "CA", "AU", "MX")
SCORE_THRESHOLD = 0.35  # drops Presidio's "very weak" SSN/phone guesses, keeps validated hits

_URL_CHARS = r"[^\s<>\"'`]"
# with a scheme (any case), or www., or scheme-less host.tld/... with a query, or a profile
# host's path (facebook.com/NAME), or user:pw@host
_URL = (
    rf"(?i:\b[a-z][a-z0-9+.\-]{{1,15}}://{_URL_CHARS}+"
    rf"|\bwww\d{{0,3}}\.{_URL_CHARS}+"
    rf"|\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{{2,24}}/{_URL_CHARS}*[?#]{_URL_CHARS}+"
    rf"|\b(?:[a-z0-9\-]+\.)*(?:twitter|x|facebook|fb|instagram|linkedin|tiktok|github|medium"
    rf"|reddit|youtube|threads|vk|t|mastodon\w*|bsky)\.(?:com|net|me|social|app|be|org)"
    rf"/{_URL_CHARS}+"
    rf"|\b[\w.%+\-]+:[^\s@/]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+{_URL_CHARS}*)"
)
_ADDRESS = (
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][a-z'’]+\.?\s+){1,3}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl"
    r"|Terrace|Close|Crescent|Square|Sq|Parkway|Pkwy|Highway|Hwy)\b\.?"
)
_PHONE_NANP = (
    r"(?<![\w$€£+.\-])(?:(?:\+?1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\d{3}[ .\-])\d{3}[ .\-]\d{4}"
    r"|\+(?:\d[ .\-()]{0,2}){6,14}\d)(?![\w\-]|\.\d)"
)
_HANDLE_RE = re.compile(r"(?<![\w@])@(?P<handle>\w{1,50})")
# Cheap gates: an entity type is only looked for where its shape can occur (phonenumbers'
# matcher costs ~1 ms per string and region, so ids and timestamps must not reach it).
_DIGIT_RUN = re.compile(r"(?:\d[\s().\-/]{0,3}){7,}")
_ID_OR_TIME = re.compile(
    r"^(?:\d{20,}|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"\s*(?:Z|[+\-]\d{2}:?\d{2})?)?)$"
)
_DIGITS_ENTITIES = ["CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "UK_NINO"]
_DIGITS_ENTITIES += sorted({r.entity for r in RULES} - {"EMAIL_ADDRESS", "PHONE_NUMBER"})
_SPELLED_AT = re.compile(r"(?i)(?:\bat\b|[(\[{<]\s*at\s*[)\]}>])")
# a booking reference needs no digit after a context word ("PNR QWERTY")
_BOOKING_WORD = re.compile(r"(?i)booking|confirmation|conf|reservation|locator|pnr|\bres\b")


def _entities_for(text: str, has_doc: bool) -> list[str]:
    """The entity types worth looking for in `text` (empty: nothing to analyse)."""
    if _ID_OR_TIME.match(text.strip()):
        return []
    want = ["PERSON"] if has_doc else []
    if "@" in text or _SPELLED_AT.search(text):
        want.append("EMAIL_ADDRESS")
    if "/" in text or "www" in text.lower() or ("@" in text and ":" in text):
        want.append("URL")  # what each branch of _URL needs: "://" or a path, www., user:pw@
    if any(c.isdigit() for c in text):
        want += _DIGITS_ENTITIES + ["STREET_ADDRESS"]
        if _DIGIT_RUN.search(text):
            want.append("PHONE_NUMBER")
    elif _BOOKING_WORD.search(text):
        want.append("BOOKING_REF")
    return list(dict.fromkeys(want))  # (card, IBAN, SSN: both in Presidio's and RULES' list)


def hash_author(name: str | None, salt: str) -> str | None:
    """Salted author pseudonym: HMAC-SHA256(salt, lower(name without '@')), 16 hex chars.

    Case and a leading '@' are ignored so `@Bob` and `bob` from two sources agree. Empty or
    missing names give None (no author), not the hash of "".
    """
    if name is None:
        return None
    key = str(name).strip().lstrip("@").strip().lower()
    if not key:
        return None
    digest = hmac.new(salt.encode("utf-8"), key.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:16]


def reject_digest(record: str | None) -> str:
    """What a rejects row keeps of the refused record: a SHA-256 (to find the input row again)
    and its size or JSON field names, never its values (they may hold anyone's data)."""
    import json

    data = "" if record is None else str(record)
    digest = hashlib.sha256(data.encode("utf-8", "replace")).hexdigest()[:24]
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict):
        names = ",".join(_field_name(k) for k in list(obj)[:30])
        return f"sha256:{digest} fields={names}"
    return f"sha256:{digest} chars={len(data)}"


_PLAIN_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .\-]{0,39}$")


def _field_name(key: object) -> str:
    """A field name as a reject may show it: a plain identifier with few digits, else `?`
    (an e-mail or a phone number used as a JSON key is data, not a name)."""
    text = str(key)
    plain = _PLAIN_FIELD.match(text) and sum(c.isdigit() for c in text) < 4
    return text if plain else "?"


_URL_QUERY = re.compile(r"(\bhttps?://[^\s?#]*)[?#]\S*?(?=:?\s|:?$)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|«[^»]*»|‘[^’]*’")


def safe_reason(reason: str) -> str:
    """A reject reason that never echoes the refused value: normalised (NFKC, zero-width
    gone), quoted values and `got …` tails cut, at most 160 characters. The caller still
    redacts it."""
    from opinion.clean.normalize import normalize_text

    text = normalize_text(reason).replace("\n", " ")
    text = _URL_QUERY.sub(r"\1", text)  # a page's query would crowd out the why
    text = _QUOTED.sub("…", text)
    text = re.sub(r"(?i)\b(got|value|was)\s+\S.*$", r"\1 …", text)
    return text[:160]


CHUNK_CHARS = 2_000  # Presidio's duplicate removal is quadratic in hits: keep inputs short


def _pieces(text: str) -> list[str]:
    """`text` cut into pieces of at most ~CHUNK_CHARS, each ending just after whitespace (so
    no word, e-mail or number is split unless a single token is longer than a chunk)."""
    if len(text) <= CHUNK_CHARS:
        return [text]
    out, start = [], 0
    while start < len(text):
        end = min(start + CHUNK_CHARS, len(text))
        if end < len(text):
            space = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if space > start + CHUNK_CHARS // 2:
                end = space + 1
        out.append(text[start:end])
        start = end
    return out


# optional packages Presidio imports at import time for recognizers and engines we never use
# (Hugging Face NER, GLiNER, the transformers NLP engine): torch + transformers cost 10-15 s
_UNUSED_BY_PRESIDIO = ("torch", "transformers", "spacy_huggingface_pipelines", "gliner")


@functools.cache
def _import_presidio() -> None:
    """Import presidio_analyzer once, with `_UNUSED_BY_PRESIDIO` hidden unless something
    already loaded them (Presidio guards each import with `except ImportError`): a collect
    process then pays ~1 s, not 15 s (issue #25). They import normally afterwards."""
    import sys

    hidden = [name for name in _UNUSED_BY_PRESIDIO if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import presidio_analyzer  # noqa: F401
        import presidio_analyzer.nlp_engine  # noqa: F401
        import presidio_analyzer.predefined_recognizers  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


@functools.cache
def _engine():
    """(AnalyzerEngine, AnonymizerEngine, nlp) on the process's one spaCy pipeline."""
    import tldextract

    _import_presidio()
    from presidio_analyzer import (
        AnalyzerEngine,
        EntityRecognizer,
        Pattern,
        PatternRecognizer,
        RecognizerRegistry,
        RecognizerResult,
    )
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )
    from presidio_anonymizer import AnonymizerEngine

    from opinion.spacy_pipeline import load_spacy, model_name

    offline_tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer, validating the domain against tldextract's bundled
        suffix list (the stock one fetches it from the network on first use)."""

        def validate_result(self, pattern_text: str) -> bool:
            return offline_tld(pattern_text.rpartition("@")[2]).fqdn != ""

    class NoContext(ContextAwareEnhancer):
        """Scores as the recognizers give them. The stock lemma enhancer only raises scores
        near words like "phone", and costs (results x tokens): 20 s on one 20 kB post."""

        def __init__(self) -> None:
            super().__init__(0.0, 0.0, 0, 0)

        def enhance_using_context(
            self, text, raw_results, nlp_artifacts, recognizers, context=None
        ):
            return raw_results

    class Rules(EntityRecognizer):
        """opinion.clean.pii_patterns' validated patterns (bookings, tickets, passports,
        national ids, wallets, spelled e-mails, card/IBAN/SSN variants, EU addresses)."""

        def __init__(self) -> None:
            super().__init__(sorted({r.entity for r in RULES}), name="OpinionRules")

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            from opinion.clean.pii_patterns import find

            return [
                RecognizerResult(entity, start, end, score)
                for entity, start, end, score in find(text, set(entities))
            ]

    case_sensitive = re.DOTALL | re.MULTILINE  # Presidio's default adds IGNORECASE
    nlp = load_spacy()
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model_name()}])
    nlp_engine.nlp = {"en": nlp}  # the shared, already-loaded pipeline
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        OfflineEmailRecognizer(),
        PhoneRecognizer(supported_regions=PHONE_REGIONS),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        UkNinoRecognizer(),
        SpacyRecognizer(supported_entities=["PERSON"]),
        PatternRecognizer("URL", name="UrlWithSecrets", patterns=[Pattern("url", _URL, 0.95)]),
        PatternRecognizer(
            "STREET_ADDRESS",
            name="StreetAddress",
            patterns=[Pattern("street", _ADDRESS, 0.6)],
            global_regex_flags=case_sensitive,
        ),
        PatternRecognizer(
            "PHONE_NUMBER",
            name="NanpFormatted",
            patterns=[Pattern("nanp", _PHONE_NANP, 0.5)],
            global_regex_flags=case_sensitive,
        ),
        Rules(),
    ):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(
        nlp_engine=nlp_engine,
        registry=registry,
        supported_languages=["en"],
        context_aware_enhancer=NoContext(),
    )
    return analyzer, AnonymizerEngine(), nlp


@functools.cache
def _pattern_gates() -> dict[str, tuple | None]:
    """Per entity type, the regexes of every recognizer that can report it, so a text none
    of them matches skips Presidio (exact: a pattern recognizer only reports what one of its
    patterns matched). None where a recognizer is not regex-based (phone numbers, NER)."""
    import regex
    from presidio_analyzer import PatternRecognizer

    gates: dict[str, tuple | None] = {}
    for recognizer in _engine()[0].registry.recognizers:
        for entity in recognizer.supported_entities:
            if entity in gates and gates[entity] is None:
                continue
            if isinstance(recognizer, PatternRecognizer):
                flags = recognizer.global_regex_flags
                found = tuple(regex.compile(p.regex, flags=flags) for p in recognizer.patterns)
            elif recognizer.name == "OpinionRules":
                found = tuple(r.regex for r in RULES if r.entity == entity)
            else:
                gates[entity] = None
                continue
            gates[entity] = (*(gates.get(entity) or ()), *found)
    return gates


def _may_find(entity: str, text: str) -> bool:
    """Whether a recognizer of `entity` can report anything in `text` (see _pattern_gates)."""
    gate = _pattern_gates().get(entity)
    return gate is None or any(r.search(text) for r in gate)


def _artifacts(doc, analyzer):
    """Presidio's NLP artifacts of a doc we tokenised (and ran NER on) ourselves."""
    from presidio_analyzer.nlp_engine import NlpArtifacts

    return NlpArtifacts(
        entities=list(doc.ents),
        tokens=doc,
        tokens_indices=[t.idx for t in doc],
        lemmas=[t.text for t in doc],
        nlp_engine=analyzer.nlp_engine,
        language="en",
    )


class Redactor:
    """Batch PII redaction with one Presidio engine (built once per process).

    `keep_handles`: brand handles (kept as @handles and never taken for a PERSON);
    `keep_words`: further words (brand names, aliases) a PERSON span may not contain.
    """

    def __init__(self, keep_handles: Iterable[str] = (), keep_words: Iterable[str] = ()):
        self.keep = {h.strip().lstrip("@").lower() for h in keep_handles}
        self.keep_words = self.keep | {w.lower() for p in keep_words for w in str(p).split()}
        self.keep_words_frozen = frozenset(self.keep_words)
        #: work done so far: texts Presidio analysed, NER windows and the characters in them
        self.stats = {"analyzed": 0, "ner_windows": 0, "ner_chars": 0}

    def redact_many(self, texts: Sequence[str], batch_size: int = 256) -> list[str]:
        """The redacted form of every text (same order); duplicates are analysed once."""
        pieces = {t: _pieces(t) for t in dict.fromkeys(texts) if t}
        unique = list(dict.fromkeys(p for parts in pieces.values() for p in parts))
        done = dict(zip(unique, self._redact_unique(unique, batch_size), strict=True))
        joined = {t: "".join(done[p] for p in parts) for t, parts in pieces.items()}
        return [joined.get(t, t) for t in texts]

    def redact(self, text: str) -> str:
        return self.redact_many([text])[0] if text else text

    def _redact_unique(self, texts: list[str], batch_size: int) -> list[str]:
        analyzer, anonymizer, nlp = _engine()  # first: it imports Presidio
        from presidio_anonymizer.entities import OperatorConfig

        docs = self._ner(texts, batch_size)
        operators = {
            k: OperatorConfig("replace", {"new_value": v}) for k, v in PLACEHOLDERS.items()
        }
        keep = self.keep

        def url_operator(url: str) -> str:
            return clean_url(url, keep)

        operators["URL"] = OperatorConfig("custom", {"lambda": url_operator})
        # only the NER recognizer reads the tokens, and PERSON is only asked for with a doc
        no_doc = _artifacts(nlp.make_doc(""), analyzer)
        out = []
        for text, doc in zip(texts, docs, strict=True):
            entities = [e for e in _entities_for(text, doc is not None) if _may_find(e, text)]
            names = self._names(text)
            if not entities and not names:
                out.append(self._handles(text))
                continue
            found = []
            if entities:
                self.stats["analyzed"] += 1
                found = analyzer.analyze(
                    text,
                    "en",
                    entities=entities,
                    nlp_artifacts=no_doc if doc is None else _artifacts(doc, analyzer),
                    score_threshold=SCORE_THRESHOLD,
                )
            found = [r for r in found if self._personal(text, r)]
            found += names
            if found:
                text = anonymizer.anonymize(
                    text, found, operators, merge_entities_with_spaces=False
                ).text
            out.append(self._handles(text))
        return out

    def _ner(self, texts: list[str], batch_size: int) -> list:
        """Per text, a doc whose `ents` are NER's spans, or None where no name can be
        (`opinion.clean.name_windows`): NER reads only the windows, in one `nlp.pipe`; a
        long text's doc is its tokens with the windows' PERSON spans mapped back."""
        from spacy.util import filter_spans

        from opinion.clean.name_windows import name_windows

        nlp = _engine()[2]
        jobs = [
            (i, start, end)
            for i, text in enumerate(texts)
            for start, end in name_windows(text, self.keep_words_frozen)
        ]
        self.stats["ner_windows"] += len(jobs)
        self.stats["ner_chars"] += sum(end - start for _, start, end in jobs)
        ner_off = [p for p in nlp.pipe_names if p != "ner"]
        piped = nlp.pipe(
            (texts[i][start:end] for i, start, end in jobs), disable=ner_off, batch_size=batch_size
        )
        docs: list = [None] * len(texts)
        spans: dict[int, list] = {}
        for (i, start, end), window in zip(jobs, piped, strict=True):
            if start == 0 and end == len(texts[i]):
                docs[i] = window  # the whole text was read
                continue
            found = spans.setdefault(i, [])
            found += [(start + e.start_char, start + e.end_char, e.label_) for e in window.ents]
        for i, found in spans.items():
            doc = docs[i] = nlp.make_doc(texts[i])
            ents = [doc.char_span(a, b, label, alignment_mode="expand") for a, b, label in found]
            doc.ents = filter_spans([e for e in ents if e is not None])
        return docs

    def _personal(self, text: str, result) -> bool:
        """Whether a Presidio hit is a person's: not a role mailbox, a toll-free line, or a
        PERSON span that is no name (`opinion.clean.not_personal`)."""
        kind, value = result.entity_type, text[result.start : result.end]
        if kind == "PERSON":
            return self._is_name(text, result)
        if kind == "EMAIL_ADDRESS":
            return not role_email(value)
        return kind != "PHONE_NUMBER" or not (toll_free(value) or date_like(value))

    def _is_name(self, text: str, result) -> bool:
        """Whether a PERSON span is a name to redact: what is left of it after dropping
        @handles, #tags and brand words at either end is two or more words, none a brand
        word. The span is narrowed to that rest (NER often glues "@united" to a name)."""
        words = [
            m
            for m in re.finditer(r"[@#]?[\w'’\-]+", text[result.start : result.end])
            if not m.group(0).startswith(("@", "#"))
        ]
        while words and words[0].group(0).lower() in self.keep_words:
            words.pop(0)
        while words and words[-1].group(0).lower() in self.keep_words:
            words.pop()
        if len(words) < 2 or any(w.group(0).lower() in self.keep_words for w in words):
            return False
        if not _looks_like_name([w.group(0) for w in words]):
            return False
        start, end = result.start + words[0].start(), result.start + words[-1].end()
        span = name_span(text, start, end, shouting(text))
        if span is None:
            return False
        result.start, result.end = span
        return True

    def _names(self, text: str) -> list:
        """NAME results of `opinion.clean.names` (lower case, diacritics, other scripts)."""
        from presidio_analyzer import RecognizerResult

        from opinion.clean.names import find_names

        if _ID_OR_TIME.match(text.strip()):
            return []
        return [
            RecognizerResult("NAME", start, end, 0.85)
            for start, end in find_names(text, self.keep_words_frozen)
            if start == 0 or text[start - 1] not in "@#_/."
        ]

    def _handles(self, text: str) -> str:
        def replace(m: re.Match[str]) -> str:
            handle = m.group("handle")
            keep = (
                handle.lower() in self.keep
                or org_handle(handle)
                or not_a_handle(handle, self.keep_words_frozen)
            )
            return m.group(0) if keep else "@user"

        return _HANDLE_RE.sub(replace, text)


@functools.lru_cache(maxsize=8)
def _redactor(keep: frozenset[str]) -> Redactor:
    return Redactor(keep)


def redact(text: str, keep_handles: Iterable[str] = ()) -> str:
    """One text, redacted (see `Redactor`); batch callers use `Redactor.redact_many`."""
    if not text:
        return text
    return _redactor(frozenset(keep_handles)).redact(text)
