"""Post-level sentiment scoring: accuracy, macro-F1, macro-recall (the SemEval-2017 4A
measure), per-class recall and the confusion matrix, with VADER's reading beside it.

Used by `opinion train` (the post head on its dev split) and by `opinion eval FILE --task
sentiment` (any labelled file a user has: the whole engine's post reading against it).
"""

from __future__ import annotations

from collections.abc import Sequence

from opinion.nlp.polarity import CLASSES

LABEL_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "-1": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "0": "neutral",
    "positive": "positive",
    "pos": "positive",
    "1": "positive",
    "+1": "positive",
}


KNOWN_LABELS = "negative/neutral/positive, neg/neu/pos, -1/0/1"


def normalise_label(value: object) -> str | None:
    """A sentiment label as one of CLASSES (case-insensitive, common aliases; a number -1, 0
    or 1 as read from JSON or Parquet), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value in (-1, 0, 1):
        return CLASSES[int(value) + 1]
    return LABEL_ALIASES.get(str(value).strip().lower())


def rating_label(value: object, buckets: tuple[float, float]) -> str | None:
    """A numeric rating bucketed: ≤ low negative, ≤ high neutral, above positive."""
    try:
        rating = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if rating != rating:  # NaN: no rating
        return None
    low, high = buckets
    return "negative" if rating <= low else "neutral" if rating <= high else "positive"


def sentiment_metrics(gold: Sequence[str], pred: Sequence[str | None]) -> dict:
    """Accuracy, macro-F1 and macro-recall over the three classes, per-class recall, and
    the confusion matrix (`confusion[gold][predicted]`; a missing prediction is "none")."""
    if len(gold) != len(pred):
        raise ValueError("gold and predictions differ in length")
    n = len(gold)
    pairs = list(zip(gold, [p or "none" for p in pred], strict=True))
    confusion = {g: {p: 0 for p in (*CLASSES, "none")} for g in CLASSES}
    for g, p in pairs:
        confusion[g][p] += 1
    recall, f1 = {}, []
    for c in CLASSES:
        tp = confusion[c][c]
        support = sum(confusion[c].values())
        predicted = sum(confusion[g][c] for g in CLASSES)
        if support:
            recall[c] = round(tp / support, 4)
        if support or predicted:
            f1.append(2 * tp / (support + predicted))
    return {
        "n": n,
        "accuracy": round(sum(g == p for g, p in pairs) / n, 4) if n else 0.0,
        "macro_f1": round(sum(f1) / len(f1), 4) if f1 else 0.0,
        "macro_recall": round(sum(recall.values()) / len(recall), 4) if recall else 0.0,
        "recall": recall,
        "confusion": confusion,
    }


def vader_labels(texts: Sequence[str]) -> list[str]:
    """VADER's post-level reading (compound ≥ 0.05 positive, ≤ -0.05 negative)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    out = []
    for text in texts:
        compound = analyser.polarity_scores(text)["compound"]
        out.append(
            "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        )
    return out


def evaluate_post_sentiment(model, texts: Sequence[str], labels: Sequence[str]) -> dict:
    """The post head alone (no engine rules) on labelled texts: how `opinion train` scores it."""
    probs = model.post_probabilities(list(texts))
    pred = [max(p, key=p.__getitem__) for p in probs]
    return sentiment_metrics(list(labels), pred)
