"""`opinion train --long-labels`: fit the long-post head (`long_head.py`) on rated posts.

The model's own engine reads each labelled long post sentence by sentence (the readings it
will weigh at inference, in the runtime inference uses); short posts are skipped (their label
is the post head's). The head is written beside the model file with that file's version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opinion.nlp.long_head import LONG_HEAD_FILE, LongHead, fit_long_head
from opinion.nlp.polarity import CLASSES
from opinion.nlp.post_head import merge_metrics

log = logging.getLogger(__name__)


def train_long_head(
    model_dir: Path,
    texts: Sequence[str],
    labels: Sequence[str],
    dev: tuple[Sequence[str], Sequence[str]] | None = None,
    log_fn: Callable = log.info,
) -> dict:
    """Fit the long-post head of the model in `model_dir` on labelled long posts and write
    it there; returns the report (also in `metrics.json`, section `long_labels`): the dev
    accuracy of the rule and of the head on `dev` (texts, labels) when given."""
    from opinion.nlp import registry
    from opinion.nlp.engine import AbsaEngine

    bad = sorted({str(label) for label in labels if label not in CLASSES})
    if bad:
        raise ValueError(f"unknown label {bad[0]!r}: expected one of {', '.join(CLASSES)}")
    started = time.time()
    registry._embedded_joint.cache_clear()  # the folder's files may have changed on disk
    registry.load_models.cache_clear()
    spec = f"embedded_dir={model_dir}"
    engine = AbsaEngine.load(spec)
    readings = engine.long_readings(list(texts))
    pairs = [(r, y) for r, y in zip(readings, labels, strict=True) if r is not None]
    if len(pairs) < 2 * len(CLASSES):
        raise ValueError(
            f"{len(pairs)} of {len(texts)} labelled posts are long (over the engine's "
            "sentence-by-sentence length): too few to learn from"
        )
    digest = registry.file_digest(model_dir)
    head = fit_long_head([r for r, _ in pairs], [y for _, y in pairs], digest)
    report: dict = {
        "long_posts": len(pairs),
        "short_posts_skipped": len(texts) - len(pairs),
        "labels": {c: sum(y == c for _, y in pairs) for c in CLASSES},
        "fitted_on": digest,
        "cross_validation": cross_validate(pairs),
        "seconds": round(time.time() - started, 1),
    }
    if dev is not None and len(dev[0]):
        report["dev"] = long_dev_metrics(engine, head, dev)
    head.save(model_dir / LONG_HEAD_FILE, report)
    registry._embedded_joint.cache_clear()
    registry.load_models.cache_clear()
    log_fn(
        f"long-post head: {len(pairs)} long posts ({report['short_posts_skipped']} short ones "
        f"skipped), fitted in {report['seconds']}s"
    )
    merge_metrics(model_dir, "long_labels", report)
    return report


def cross_validate(pairs: list[tuple[list[dict], str]], folds: int = 5) -> dict:
    """Accuracy of the head on the training posts, each fold fitted on the others, beside the
    rule's on the same posts: what the head adds, measured without a dev file."""
    from opinion.nlp.engine import long_post_rule

    if len(pairs) < folds * 2 * len(CLASSES):
        return {}
    hits = 0
    for k in range(folds):
        train = [p for i, p in enumerate(pairs) if i % folds != k]
        head = fit_long_head([r for r, _ in train], [y for _, y in train], "cv")
        for readings, label in pairs[k::folds]:
            probs = head.probabilities(readings)
            hits += max(probs, key=probs.__getitem__) == label
    rule = sum(long_post_rule(r)[0] == y for r, y in pairs)
    return {
        "folds": folds,
        "accuracy_head": round(hits / len(pairs), 4),
        "accuracy_rule": round(rule / len(pairs), 4),
    }


def long_dev_metrics(engine, head: LongHead, dev) -> dict:
    """Accuracy of the rule and of the head on the long posts of `dev` (texts, labels)."""
    from opinion.nlp.engine import long_post_rule

    readings = engine.long_readings(list(dev[0]))
    pairs = [(r, y) for r, y in zip(readings, dev[1], strict=True) if r is not None]
    if not pairs:
        return {"n": 0}
    by_head = [max(p := head.probabilities(r), key=p.__getitem__) for r, _ in pairs]
    by_rule = [long_post_rule(r)[0] for r, _ in pairs]
    gold = [y for _, y in pairs]

    def accuracy(pred: list[str]) -> float:
        return round(sum(a == b for a, b in zip(pred, gold, strict=True)) / len(gold), 4)

    return {"n": len(pairs), "accuracy_head": accuracy(by_head), "accuracy_rule": accuracy(by_rule)}
