"""Sentence spans of long posts, from spaCy: the engine reads a long review sentence by
sentence, so its cost grows with its length (one encoder pass per sentence) and each aspect's
sentiment is read in the sentence that holds it.

spaCy's rule-based `sentencizer` over the shared pipeline's tokenizer: measured on airline
reviews it is ~50× cheaper than the statistical `senter` and ~700× cheaper than the parser,
and reviews are punctuated prose, where punctuation rules find the same boundaries.
"""

from __future__ import annotations

import functools

MIN_SENTENCE_CHARS = 40  # a shorter sentence ("Thank you.", "Never again!") joins the next


@functools.cache
def _sentencizer():
    from spacy.pipeline import Sentencizer

    return Sentencizer()


def sentence_spans(texts: list[str]) -> list[list[tuple[int, int]]]:
    """(start, end) character spans of each text's sentences, covering the text; sentences
    shorter than MIN_SENTENCE_CHARS are merged into their neighbour."""
    from opinion.spacy_pipeline import load_spacy

    nlp = load_spacy()
    split = _sentencizer()
    out = []
    for text, doc in zip(texts, nlp.tokenizer.pipe(texts, batch_size=256), strict=True):
        doc = split(doc)
        bounds = [s.start_char for s in doc.sents] or [0]
        bounds[0] = 0
        spans = [(a, b) for a, b in zip(bounds, [*bounds[1:], len(text)], strict=True)]
        out.append(merge_short(spans, text))
    return out


def _paragraphs(spans: list[tuple[int, int]], text: str) -> list[list[tuple[int, int]]]:
    """Sentences grouped by paragraph (a blank line ends one: a review's title stands alone)."""
    groups: list[list[tuple[int, int]]] = [[]]
    for s, e in spans:
        chunk = text[s:e]
        lead = chunk[: len(chunk) - len(chunk.lstrip())]
        if "\n\n" in lead.replace(" ", "").replace("\t", ""):
            groups.append([])
        groups[-1].append((s, e))
        trail = chunk[len(chunk.rstrip()) :]
        if "\n\n" in trail.replace(" ", "").replace("\t", ""):
            groups.append([])
    return [g for g in groups if g]


def merge_short(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Join sentences shorter than MIN_SENTENCE_CHARS to the following one of the same
    paragraph (the last to the previous one), so a fragment is read with its context."""
    out: list[tuple[int, int]] = []
    for group in _paragraphs(spans, text):
        out += _merge_paragraph(group, text)
    return out


def _merge_paragraph(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    carry: int | None = None
    for s, e in spans:
        start = s if carry is None else carry
        if len(text[start:e].strip()) < MIN_SENTENCE_CHARS:
            carry = start
            continue
        merged.append([start, e])
        carry = None
    if carry is not None:
        end = spans[-1][1]
        if merged:
            merged[-1][1] = end
        else:
            merged.append([carry, end])
    return [(a, b) for a, b in merged]
