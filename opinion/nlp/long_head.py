"""The long-post head: a review's label from its sentences' readings, learnt from ratings.

A long post (a review, a forum post) is read sentence by sentence by the post head
(`engine.py`). Without this head its label is a fixed rule: the mean of the readings, title
and verdict counting double, against a balance point (`engine.long_post_label`). With it, a
multinomial logistic regression over a few summaries of those readings decides (the weighted
mean, the title's and the last sentence's readings, the spread of the lean, the share of
sentences that complain or praise, the length), learnt from posts people rated: `opinion
train --long-labels FILE --label-col rating --rating-buckets 4,6`.

It is stored beside the model file as `long_head.json` with the sha1 of the model file it
read (`fitted_on`): its inputs are that file's post-head readings, so a head fitted on another
file is not used (one warning) and the rule decides again. A copy of the folder keeps it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from opinion.nlp.polarity import CLASSES

log = logging.getLogger(__name__)

LONG_HEAD_FILE = "long_head.json"
EDGE_WEIGHT = 2.0  # weight of a long post's first (title) and last (verdict) sentence; others 1
FEATURES = (
    *(f"mean_{c}" for c in CLASSES),
    *(f"first_{c}" for c in CLASSES),
    *(f"last_{c}" for c in CLASSES),
    "lean_mean",
    "lean_min",
    "lean_max",
    "lean_std",
    "share_negative",
    "share_positive",
    "log_sentences",
)


def edge_weighted_mean(readings: Sequence[dict]) -> dict[str, float]:
    """The mean of a long post's sentence readings, its first and last counting
    `EDGE_WEIGHT`: what the rule (`engine.long_post_rule`) reads and the head starts from."""
    weights = [1.0] * len(readings)
    weights[0] = weights[-1] = EDGE_WEIGHT
    total = sum(weights)
    return {
        c: sum(w * r[c] for r, w in zip(readings, weights, strict=True)) / total
        for c in readings[0]
    }


def long_features(readings: Sequence[dict]) -> list[float]:
    """The summaries of a long post's sentence readings ({polarity: probability} each) that
    the head weighs, in `FEATURES` order."""
    n = len(readings)
    weighted = edge_weighted_mean(readings)
    mean = [weighted[c] for c in CLASSES]
    lean = [r["positive"] - r["negative"] for r in readings]
    lean_mean = sum(lean) / n
    top = [max(r, key=r.__getitem__) for r in readings]
    return [
        *mean,
        *(readings[0][c] for c in CLASSES),
        *(readings[-1][c] for c in CLASSES),
        lean_mean,
        min(lean),
        max(lean),
        math.sqrt(sum((x - lean_mean) ** 2 for x in lean) / n),
        top.count("negative") / n,
        top.count("positive") / n,
        math.log(n),
    ]


@dataclass
class LongHead:
    """Standardised features → three class scores (softmax)."""

    center: list[float]
    scale: list[float]
    weight: list[list[float]]  # one row per class, one column per feature
    bias: list[float]
    fitted_on: str  # `registry.file_digest` of the model file whose readings it learnt

    def probabilities(self, readings: Sequence[dict]) -> dict[str, float]:
        features = zip(long_features(readings), self.center, self.scale, strict=True)
        x = [(v - c) / s for v, c, s in features]
        scores = [
            b + sum(w * v for w, v in zip(row, x, strict=True))
            for row, b in zip(self.weight, self.bias, strict=True)
        ]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        return {c: e / sum(exps) for c, e in zip(CLASSES, exps, strict=True)}

    def save(self, path: Path, report: dict | None = None) -> None:
        body = {
            "features": list(FEATURES),
            "classes": list(CLASSES),
            "center": self.center,
            "scale": self.scale,
            "weight": self.weight,
            "bias": self.bias,
            "fitted_on": self.fitted_on,
            "report": report or {},
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> LongHead:
        body = json.loads(path.read_text())
        if body.get("features") != list(FEATURES) or body.get("classes") != list(CLASSES):
            raise ValueError(f"{path.name}: written for other features or classes")
        return cls(body["center"], body["scale"], body["weight"], body["bias"], body["fitted_on"])


def head_identity(path: Path) -> tuple[str, str] | None:
    """(the model file digest a stored head was fitted on, a sha1 of what it decides with:
    features, classes and weights, not its training report); None when there is no readable
    head. A refit with the same weights keeps the identity."""
    try:
        body = json.loads(Path(path).read_text())
        decides = {k: body[k] for k in ("features", "classes", "center", "scale", "weight")}
        decides["bias"] = body["bias"]
        fitted = str(body["fitted_on"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    text = json.dumps(decides, sort_keys=True).encode()
    return fitted, hashlib.sha1(text).hexdigest()


def load_long_head(folder: Path, model_file_digest: str) -> LongHead | None:
    """The folder's long-post head when it was fitted on this model file, else None (with one
    warning when there is a head, fitted on another file or unreadable)."""
    path = Path(folder) / LONG_HEAD_FILE
    if not path.exists():
        return None
    try:
        head = LongHead.read(path)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("long-post head %s not used: %s", path, exc)
        return None
    if head.fitted_on != model_file_digest:
        log.warning(
            "long-post head %s was fitted on %s, the model file is %s: long posts are read by "
            "the rule; refit it with `opinion train --long-labels`",
            path,
            head.fitted_on[:10],
            model_file_digest[:10],
        )
        return None
    return head


def fit_long_head(
    readings: Sequence[Sequence[dict]],
    labels: Sequence[str],
    fitted_on: str,
    l2: float = 1e-3,
) -> LongHead:
    """Multinomial logistic regression (L-BFGS, full batch, so the same data gives the same
    head) on the standardised features of each post's readings."""
    import torch

    rows = torch.tensor([long_features(r) for r in readings], dtype=torch.float64)
    target = torch.tensor([CLASSES.index(label) for label in labels])
    center = rows.mean(0)
    scale = rows.std(0).clamp_min(1e-6)
    x = (rows - center) / scale
    weight = torch.zeros(len(CLASSES), x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(len(CLASSES), dtype=torch.float64, requires_grad=True)
    optim = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def loss_fn():
        optim.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, target)
        loss = loss + l2 * (weight**2).sum()
        loss.backward()
        return loss

    optim.step(loss_fn)
    return LongHead(
        center.tolist(),
        scale.tolist(),
        weight.detach().tolist(),
        bias.detach().tolist(),
        fitted_on,
    )
