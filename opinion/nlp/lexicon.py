"""VADER lexicon baseline: the reference number printed beside every model metric."""

from __future__ import annotations

import functools

from opinion.nlp.polarity import Target

WINDOW = 60  # characters each side of the aspect the lexicon reads


@functools.cache
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def text_polarity(text: str) -> str:
    score = _analyzer().polarity_scores(text)["compound"]
    return "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"


def lexicon_polarity(target: Target) -> str:
    """VADER's compound score on a window around the aspect (whole text when short)."""
    lo, hi = max(0, target.start - WINDOW), min(len(target.text), target.end + WINDOW)
    return text_polarity(target.text[lo:hi])
