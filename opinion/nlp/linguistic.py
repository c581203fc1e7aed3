"""The linguistic layer: spaCy reads form (tokens, lemmas, negation, sentences); the transformer
reads meaning.

One `Linguistic` object per process and pack (`linguistic_for`), over the shared pipeline
(`opinion.spacy_pipeline.load_spacy`). Speed is the constraint (the whole engine must stay
above 500 tweets/s on 2 cores), so every post gets only the cheap parts:

- tokens from the pipeline's tokenizer (`tokenizer.pipe`, batched) and **lemmas** from
  spaCy's English lookup table (`spacy-lookups-data`, the `lookup` mode of spaCy's lemmatizer):
  context-free, ~0.02 ms a tweet, and the same lemma for a term in a post and alone, so an
  aspect's canonical form never depends on its sentence (delay / delays / delayed → delay);
- taxonomy seed terms matched on those lemmas with a `PhraseMatcher` (no hand-written
  inflections), outside @handles and URLs, longest match first;
- sentences of long posts: `opinion.nlp.sentences` (spaCy's rule-based `Sentencizer`).

The statistical parts run only where they change an answer: the dependency parse (tok2vec +
parser of the shared pipeline) is run on a post only when a negation cue is in the same
sentence as a term whose negation matters (`negated`), about one post in twenty on the demo.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable

# dropped from the front of an aspect: "the seats" and "seats" are one aspect
DETERMINERS = frozenset(
    ["the", "a", "an", "my", "our", "your", "their", "his", "her", "its", "this", "that"]
    + ["these", "those"]
)
NEGATION_CUES = frozenset(
    ["no", "not", "n't", "never", "without", "zero", "none", "nobody", "nothing", "nor"]
    + ["neither", "cannot"]
)
_CACHE = 2560  # docs kept per process: one engine group (<= 2048 posts) and some slack

__all__ = ["Linguistic", "aspect_key", "canonical_aspect", "linguistic_for"]


@functools.cache
def _lemma_table():
    """spaCy's English lemma lookup table (from `spacy-lookups-data`), as a plain dict."""
    from spacy.lookups import load_lookups

    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


@functools.cache
def _nlp():
    from opinion.spacy_pipeline import load_spacy

    return load_spacy()


@functools.lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """Lower-case lookup lemma of one word ("Delayed" → "delay", "bags" → "bag").

    A lookup table has no part of speech, so it can answer for the wrong word class: "crew"
    (a noun here, always) comes back as "crow". Aspects are inflected by suffix, so a lemma
    that does not keep the word's first three letters is not taken ("crew", "men" stay)."""
    table = _lemma_table()
    lower = word.lower()
    found = (table.get(word) or table.get(lower) or lower).lower()
    if len(lower) >= 3 and found[:3] != lower[:3]:
        return lower
    return found


def _set_lemmas(doc):
    for tok in doc:
        tok.lemma_ = lemma(tok.text)
    return doc


def _tokens(text: str):
    return _set_lemmas(_nlp().tokenizer(text))


def _words(doc) -> list:
    """The term's tokens: no spaces, no punctuation at either end, no leading determiner."""
    toks = [t for t in doc if not t.is_space]
    while toks and (toks[0].is_punct or toks[0].lower_ in DETERMINERS):
        toks = toks[1:]
    while toks and toks[-1].is_punct:
        toks = toks[:-1]
    return toks


@functools.lru_cache(maxsize=100_000)
def aspect_key(term: str) -> str:
    """Every word's lemma, determiners dropped: how terms are compared with the pack's seeds
    ("lost bags" and "lost bag" → "lose bag")."""
    toks = [t for t in _words(_tokens(term)) if not t.is_punct]
    return " ".join(t.lemma_ for t in toks) or " ".join(term.lower().split())


def canonical_aspect(term: str) -> str:
    """The aspect a term counts under: every word's lemma, lower-case, determiners and
    punctuation dropped ("The Seats" → "seat", "delayed" → "delay", "flight attendants" →
    "flight attendant", "checked bags" / "checking bag" → "check bag", "on-time" → "on
    time"). Lemmatising the head alone left "missed connection" and "miss connection" as
    two aspects of the demo table; the same key as seeds are matched on (`aspect_key`)."""
    return aspect_key(term)


class Linguistic:
    """Seed spotting, friction and negation for one taxonomy pack.

    `seeds` are the pack's spotted terms, `friction` its failure-event terms; both are matched
    on lemmas. Call `prepare(texts)` once per batch (one `tokenizer.pipe` pass, and one
    batched parse of the posts where a negation cue sits near a friction term); the per-text
    calls then reuse the batch's docs. Docs do not depend on the pack, so their caches are
    shared by every layer of the process (bounded to the latest batches)."""

    _docs: OrderedDict[str, object] = OrderedDict()
    _parsed: OrderedDict[str, object] = OrderedDict()

    def __init__(self, seeds: Iterable[str] = (), friction: Iterable[str] = ()):
        from spacy.matcher import PhraseMatcher

        nlp = _nlp()
        self.nlp = nlp
        self.seeds = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.friction = PhraseMatcher(nlp.vocab, attr="LEMMA")
        for matcher, terms in ((self.seeds, seeds), (self.friction, friction)):
            patterns = [_tokens(t) for t in dict.fromkeys(terms) if t.strip()]
            if patterns:
                matcher.add("TERM", patterns)

    # ------------------------------------------------------------ docs

    def prepare(self, texts: list[str], batch_size: int = 256) -> None:
        """Tokenise and lemmatise a batch in one `tokenizer.pipe` pass (kept for the calls
        that follow)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._docs]
        to_parse = []
        for text, doc in zip(todo, self.nlp.tokenizer.pipe(todo, batch_size), strict=True):
            self._keep(self._docs, text, _set_lemmas(doc))
            if any(
                self._cue_near(doc, doc[s].idx, doc[e - 1].idx) for _, s, e in self.friction(doc)
            ):
                to_parse.append(text)
        self._parse(to_parse, batch_size)

    def _parse(self, texts: list[str], batch_size: int = 256) -> None:
        """Dependency-parse a batch (tok2vec + parser only) into the parse cache."""
        if not texts:
            return
        keep = {"tok2vec", "parser"}
        off = [name for name in self.nlp.pipe_names if name not in keep]
        for text, doc in zip(
            texts, self.nlp.pipe(texts, batch_size=batch_size, disable=off), strict=True
        ):
            self._keep(self._parsed, text, doc)

    @classmethod
    def forget(cls) -> None:
        """Drop every kept doc (benchmarks measure a cold layer)."""
        cls._docs.clear()
        cls._parsed.clear()

    @staticmethod
    def _keep(cache: OrderedDict, key: str, value) -> None:
        cache[key] = value
        if len(cache) > _CACHE:
            cache.popitem(last=False)

    def doc(self, text: str):
        """The tokenised, lemmatised doc of `text` (from the latest batch, else made now)."""
        doc = self._docs.get(text)
        if doc is None:
            doc = _tokens(text)
            self._keep(self._docs, text, doc)
        return doc

    # ------------------------------------------------------------ seeds

    def seed_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every seed term in `text`, matched on lemmas: whole tokens, longest
        match first, never overlapping, never inside an @handle or a URL."""
        from spacy.util import filter_spans

        if not text:
            return []
        doc = self.doc(text)
        spans = [
            doc[s:e]
            for _, s, e in self.seeds(doc)
            if not any(t.like_url or t.text.startswith(("@", "#@")) for t in doc[s:e])
        ]
        return [(sp.start_char, sp.end_char) for sp in filter_spans(spans)]

    __call__ = seed_spans

    @functools.lru_cache(maxsize=50_000)  # noqa: B019 - one object per pack and process
    def is_friction(self, term: str) -> bool:
        """Whether a term names a failure event of the pack ("delayed", "2 hour delay")."""
        return bool(self.friction(_tokens(term)))

    # ------------------------------------------------------------ negation

    def _cue_near(self, doc, start: int, end: int) -> bool:
        """A negation cue in the sentence-ish window of the span (cheap, before parsing)."""
        return any(
            (tok.lower_ in NEGATION_CUES or tok.lemma_ in NEGATION_CUES)
            and (abs(tok.idx - start) < 80 or start <= tok.idx < end)
            for tok in doc
        )

    def parsed(self, text: str):
        """`text` with the dependency parse (tok2vec + parser of the shared pipeline)."""
        if text not in self._parsed:
            self._parse([text])
        return self._parsed[text]

    def negated(self, text: str, start: int, end: int | None = None) -> bool:
        """Whether the term at [start, end) is negated, read from the dependency parse: a
        negation (`neg`, or a determiner / number like "no" / "zero") attached to the term or
        to a word it hangs from, or the term under "without" ("no delays", "not even
        delayed", "wasn't delayed", "without a wait"; not "no one came, then it was
        delayed"). Posts with no cue near the term are not parsed."""
        end = end if end is not None else start + 1
        if not self._cue_near(self.doc(text), start, end):
            return False
        doc = self.parsed(text)
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or not len(span):
            return False
        for tok in span:
            node, hops = tok, 0
            while True:
                for child in node.children:
                    if child.dep_ == "neg" or (
                        child.dep_ in ("det", "nummod", "advmod", "preconj")
                        and child.lower_ in NEGATION_CUES
                    ):
                        return True
                if node.lower_ == "without":
                    return True
                if node.head is node or hops >= 3 or node.dep_ in ("conj", "ccomp", "advcl"):
                    break
                node, hops = node.head, hops + 1
        return False


@functools.cache
def _linguistic_cached(seeds: tuple[str, ...], friction: tuple[str, ...]) -> Linguistic:
    return Linguistic(seeds, friction)


def linguistic_for(taxonomy=None) -> Linguistic:
    """The layer for a loaded taxonomy pack (its seeds and friction terms), once per process
    and pack content; `None` gives a layer with no terms (negation, sentences, lemmas)."""
    if taxonomy is None:
        return _linguistic_cached((), ())
    seeds = tuple(s for c in taxonomy.categories.values() for s in c.seeds)
    return _linguistic_cached(seeds, tuple(taxonomy.friction))
