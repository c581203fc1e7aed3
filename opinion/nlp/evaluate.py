"""Metrics for `opinion eval`: ATSC on gold aspects, ATE as exact-span match, and a lexicon
baseline (VADER) on the same file so every number has a reference beside it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from opinion.nlp.absa_data import AbsaExample
from opinion.nlp.polarity import CLASSES, Target


def classification_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1 over the three polarity classes (classes absent from both gold
    and predictions are left out of the macro average)."""
    if len(gold) != len(pred):
        raise ValueError("gold and predictions differ in length")
    n = len(gold)
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / n if n else 0.0
    f1s = []
    for c in CLASSES:
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, pred, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, pred, strict=True))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return {
        "accuracy": round(acc, 4),
        "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        "n": n,
    }


def span_metrics(
    gold: Sequence[set[tuple[int, int]]], pred: Sequence[set[tuple[int, int]]]
) -> dict[str, float]:
    """Micro precision/recall/F1 of exact (start, end) matches."""
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    n_pred = sum(len(p) for p in pred)
    n_gold = sum(len(g) for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def gold_targets(examples: Sequence[AbsaExample]) -> tuple[list[Target], list[str]]:
    """Gold aspects with a three-way polarity (conflict aspects are not scored for ATSC)."""
    targets, labels = [], []
    for ex in examples:
        for a in ex.aspects:
            if a.polarity in CLASSES:
                targets.append(Target(ex.text, a.start, a.end))
                labels.append(a.polarity)
    return targets, labels


def evaluate_atsc(polarity, examples: Sequence[AbsaExample]) -> dict[str, float]:
    targets, labels = gold_targets(examples)
    preds = [p for p, _ in polarity.classify(targets)]
    return classification_metrics(labels, preds)


def evaluate_ate(tagger, examples: Sequence[AbsaExample]) -> dict[str, float]:
    found = tagger.extract([ex.text for ex in examples])
    gold = [{(a.start, a.end) for a in ex.aspects} for ex in examples]
    pred = [{(s.start, s.end) for s in spans} for spans in found]
    return span_metrics(gold, pred)


def evaluate_lexicon(examples: Sequence[AbsaExample]) -> dict[str, float]:
    from opinion.nlp.lexicon import lexicon_polarity

    targets, labels = gold_targets(examples)
    return classification_metrics(labels, [lexicon_polarity(t) for t in targets])


def evaluate(examples: Sequence[AbsaExample], tagger, polarity) -> dict:
    """The `opinion eval --json` object."""
    n_aspects = sum(len(ex.aspects) for ex in examples)
    labels = Counter(a.polarity for ex in examples for a in ex.aspects)
    return {
        "n": len(examples),
        "n_aspects": n_aspects,
        "labels": dict(labels),
        "model_version": {"tagger": tagger.version, "polarity": polarity.version},
        "atsc": evaluate_atsc(polarity, examples),
        "ate": evaluate_ate(tagger, examples),
        "baseline": {"name": "vader-window", "atsc": evaluate_lexicon(examples)},
    }
