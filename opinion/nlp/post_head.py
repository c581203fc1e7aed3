"""`opinion train --post-labels`: teach the post-sentiment head a channel's own labels.

Only the post head (`joint.py`: the mean of the token states and [CLS], a tanh layer, three
classes) is refit; the encoder and the other heads are copied bit for bit from the model it
starts from, so everything else read from the same encoder pass (aspects, span sentiment,
categories) is unchanged. The encoder reads each text once (`JointAbsa.post_features`); the
head then trains on those frozen features in seconds, from a seeded fresh start, so running
the command again on its own output gives the same file.

The head learns the user's labels together with general post-level tweets (SemEval-2017 4A,
the head's original data, `--post-data`): those keep it reading topics and phrasings the
user's channel has few of, with balanced class weights, while the user's labels, counted
`label_weight` times each at their own class mix, teach the channel's idea of neutral and
its class balance.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opinion.nlp.polarity import CLASSES
from opinion.nlp.registry import POST_HEAD_KEYS, encoder_digest

log = logging.getLogger(__name__)

# the keys the head refit changes (`registry.POST_HEAD_KEYS`)
HEAD_KEYS = POST_HEAD_KEYS


@dataclass
class PostHeadConfig:
    """Hyper-parameters of the head fit; the defaults produce the committed model."""

    base_dir: Path  # the model whose encoder and other heads are kept
    out_dir: Path
    post_data: Path | None = None  # general post-level tweets (JSON Lines: text, label, id)
    seed: int = 13
    # 20: over the encoder trained at post weight 0.3, SemEval dev macro-recall +0.5 to +0.8
    # over 10 epochs at two seeds, the airline dev split within seed noise; 40 overfits
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 64
    label_weight: float = 5.0  # one user label counts this many general tweets ...
    label_floor: float = 0.2  # ... and all of them together at least this share of them
    # the user's class mix, this far to balanced (0: as labelled, 1: balanced): the dev
    # airlines are 72% negative, the corpus 63%, and a channel's labels are a sample of it
    label_balance: float = 0.5
    dev_share: float = 0.1  # of the general tweets, by a hash of the id: never trained on
    limit: int | None = None  # cap general tweets and labels (smoke runs and tests)
    cache_dir: Path | None = None  # where the general tweets' features are kept between runs

    def __post_init__(self) -> None:
        self.base_dir, self.out_dir = Path(self.base_dir), Path(self.out_dir)
        if self.post_data is not None:
            self.post_data = Path(self.post_data)
            if not self.post_data.exists():
                raise FileNotFoundError(f"post-sentiment tweets not found: {self.post_data}")


def general_split(path: Path | None, dev_share: float) -> tuple[list[dict], list[dict]]:
    """(train, dev) rows `{"text", "label"}` of a post-level JSON Lines file, dev chosen by a
    hash of the id (the split `opinion train` has always used)."""
    if path is None:
        return [], []
    train, dev = [], []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("label") not in CLASSES or not str(row.get("text", "")).strip():
                continue
            key = hashlib.md5(str(row.get("id", row["text"])).encode()).hexdigest()[:8]
            (dev if int(key, 16) / 0xFFFFFFFF < dev_share else train).append(row)
    return train, dev


def fit_head(features, labels, weights, cfg: PostHeadConfig, hidden: int) -> dict:
    """Train a fresh post head (`JointAbsaModel.post_head`'s shape and dropout) on frozen
    features: AdamW, linear decay, weighted cross-entropy. Returns its tensors by key."""
    import torch
    from torch import nn

    torch.manual_seed(cfg.seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    w = torch.as_tensor(weights, dtype=torch.float32)
    head = nn.ModuleDict(
        {"post_hidden": nn.Linear(x.shape[1], hidden), "post_out": nn.Linear(hidden, len(CLASSES))}
    )
    dropout = nn.Dropout(0.1)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=0.01)
    per_epoch = -(-len(y) // cfg.batch_size)
    steps = cfg.epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(y), generator=gen)
        for b in range(0, len(y), cfg.batch_size):
            i = order[b : b + cfg.batch_size]
            h = torch.tanh(head["post_hidden"](dropout(x[i])))
            logits = head["post_out"](dropout(h))
            loss = nn.functional.cross_entropy(logits, y[i], reduction="none")
            loss = (loss * w[i]).sum() / w[i].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return {f"classifier.{k}": v.detach().clone() for k, v in head.state_dict().items()}


def class_weights(ids: Sequence[int], balance: float) -> list[float]:
    """A weight per class, mean 1 over `ids`: share^-balance (0: as labelled, 1: balanced,
    0.5: halfway, the square root of the imbalance)."""
    n = max(1, len(ids))
    counts = [0] * len(CLASSES)
    for c in ids:
        counts[c] += 1
    share = [max(1, k) / n for k in counts]
    raw = [s**-balance for s in share]
    mean = sum(s * r for s, r in zip(share, raw, strict=True))
    return [r / mean for r in raw]


def training_set(general: list[dict], texts: Sequence[str], labels: Sequence[str], cfg):
    """(texts, label ids, weights): the general tweets with balanced class weights (they are
    16% negative; the head must not learn their mix), then the user's labels at
    `label_weight` each (more when they are few: together at least `label_floor` of the
    general tweets), their classes weighted halfway to balanced (`label_balance`)."""
    ids = [CLASSES.index(r["label"]) for r in general]
    balanced = class_weights(ids, 1.0)
    weights = [balanced[c] for c in ids]
    own = [CLASSES.index(label) for label in labels]
    per_class = class_weights(own, cfg.label_balance)
    each = max(cfg.label_weight, cfg.label_floor * len(ids) / max(1, len(own)))
    weights += [each * per_class[c] for c in own]
    return [r["text"] for r in general] + list(texts), ids + own, weights


def write_model(base_dir: Path, out_dir: Path, head: dict, metadata: dict[str, str]) -> int:
    """The base model's file with the post head replaced, into `out_dir` (the encoder delta
    and the other heads copied as stored); other files of the base folder are copied along
    when `out_dir` is another folder. Returns the file's size."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from opinion.nlp.delta import _sort_metadata
    from opinion.nlp.registry import JOINT_FILE

    src = base_dir / JOINT_FILE
    with safe_open(str(src), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
        names = list(fh.keys())
        tensors = {name: fh.get_tensor(name) for name in names}
    for key, value in head.items():
        value = value.float().cpu()
        tensors[f"full::{key}"] = (value.half() if value.dim() == 2 else value).contiguous()
    if "post-sentiment" not in meta.get("task", ""):
        meta["task"] = meta.get("task", "aspect-extraction+aspect-sentiment") + "+post-sentiment"
    meta.update(metadata)
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() != base_dir.resolve():
        for path in base_dir.iterdir():
            if path.is_file() and path.name != JOINT_FILE:
                shutil.copy2(path, out_dir / path.name)
    dest = out_dir / JOINT_FILE
    tmp = dest.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    _sort_metadata(tmp)
    tmp.chmod(0o644)
    tmp.replace(dest)
    return dest.stat().st_size


def cached_features(model, cfg: PostHeadConfig, texts: list[str]):
    """`model.post_features(texts)`, kept in `cfg.cache_dir` (when set) under a key of the
    encoder, the compute dtype and the texts: the general tweets are read once per encoder,
    not once per run. Stored in the dtype they were computed in, so a cached run trains on
    the very numbers a fresh one would."""
    import torch

    if not texts or cfg.cache_dir is None:
        return model.post_features(texts, keep_dtype=True)
    dtype = next(model.model.parameters()).dtype
    key = hashlib.sha1(f"{encoder_digest(cfg.base_dir)} {dtype}".encode())
    for text in texts:
        key.update(text.encode("utf-8", "replace") + b"\0")
    path = Path(cfg.cache_dir) / f"{key.hexdigest()[:20]}.pt"
    if path.exists():
        try:
            features = torch.load(path, weights_only=True)
            if features.shape[0] == len(texts):
                return features
        except (OSError, RuntimeError, ValueError):
            pass  # unreadable: computed again and rewritten
    features = model.post_features(texts, keep_dtype=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(features, tmp)
    tmp.replace(path)
    return features


def train_post_head(
    cfg: PostHeadConfig,
    texts: Sequence[str],
    labels: Sequence[str],
    dev: tuple[Sequence[str], Sequence[str]] | None = None,
    log_fn: Callable = log.info,
) -> dict:
    """Refit the post head of `cfg.base_dir` on `labels` (plus the general tweets) and save
    the model under `cfg.out_dir`; `metrics.json` there gains a `post_labels` section with
    the dev numbers of the saved file's post head (on the general tweets' dev split, and on
    `dev` (texts, labels) when given)."""
    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    bad = sorted({str(label) for label in labels if label not in CLASSES})
    if bad:
        raise ValueError(f"unknown label {bad[0]!r}: expected one of {', '.join(CLASSES)}")
    general, general_dev = general_split(cfg.post_data, cfg.dev_share)
    if cfg.limit:
        general, general_dev = general[: cfg.limit], general_dev[: cfg.limit]
        texts, labels = list(texts)[: cfg.limit], list(labels)[: cfg.limit]
    if not texts and not general:
        raise ValueError("no labelled posts to learn from")
    import torch

    from opinion.nlp import registry

    started = time.time()
    registry._embedded_joint.cache_clear()  # the folder's file may have changed on disk
    # the encoder's reading in torch (training never runs on ONNX Runtime)
    model = registry._embedded_joint(str(cfg.base_dir), "torch")
    model.forget_states()
    all_texts, ids, weights = training_set(general, texts, labels, cfg)
    log_fn(
        f"post head: reading {len(general)} general tweets and {len(texts)} labelled posts "
        "with the frozen encoder"
    )
    features = torch.cat(
        [
            cached_features(model, cfg, all_texts[: len(general)]).float(),
            model.post_features(all_texts[len(general) :]).float(),
        ]
    )
    encoded = time.time()
    hidden = model.model.classifier["post_hidden"].out_features
    head = fit_head(features, ids, weights, cfg, hidden)
    fitted = time.time()
    counts = {c: list(labels).count(c) for c in CLASSES}
    meta = {
        "post_labels": json.dumps({"n": len(texts), **counts}, sort_keys=True),
        "post_seed": str(cfg.seed),
    }
    size = write_model(cfg.base_dir, cfg.out_dir, head, meta)
    report = {
        "config": {
            "base_dir": str(cfg.base_dir),
            "post_data": str(cfg.post_data) if cfg.post_data else None,
            "seed": cfg.seed,
            "epochs": cfg.epochs,
            "lr": cfg.lr,
            "label_weight": cfg.label_weight,
            "label_floor": cfg.label_floor,
            "label_balance": cfg.label_balance,
            "limit": cfg.limit,
        },
        "labels": {"n": len(texts), **counts},
        "general_tweets": len(general),
        "seconds": {
            "encode": round(encoded - started, 1),
            "fit": round(fitted - encoded, 1),
            "total": round(time.time() - started, 1),
        },
        "bytes": size,
    }
    log_fn(
        f"post head: {len(texts)} labels + {len(general)} general tweets, encoded in "
        f"{report['seconds']['encode']}s, fitted in {report['seconds']['fit']}s"
    )
    if (cfg.out_dir / "long_head.json").exists():  # `long_head.LONG_HEAD_FILE`
        log_fn(
            "the long-post head beside it read the old post head and is set aside until "
            "refit: opinion train --long-labels FILE"
        )
    report["dev_metrics"] = post_dev_metrics(cfg, general_dev, dev)
    merge_metrics(cfg.out_dir, "post_labels", report)
    return report


def post_dev_metrics(cfg: PostHeadConfig, general_dev: list[dict], dev) -> dict:
    """The saved model's post head alone on the general tweets' dev split and on `dev`
    (texts, labels). The engine's reading (the head plus the combination rules, brand
    targets and seed terms) is `opinion eval FILE --task sentiment` with OPINION_MODEL."""
    from opinion.nlp import registry
    from opinion.nlp.evaluate_sentiment import evaluate_post_sentiment

    # the folder may be the one just read (same path, new file): load it afresh
    registry._embedded_joint.cache_clear()
    registry.load_models.cache_clear()
    model = registry._embedded_joint(str(cfg.out_dir), "torch")
    out: dict = {}
    if general_dev and cfg.post_data is not None:
        out[cfg.post_data.name] = evaluate_post_sentiment(
            model, [r["text"] for r in general_dev], [r["label"] for r in general_dev]
        )
    if dev is not None and len(dev[0]):
        out["dev_labels"] = evaluate_post_sentiment(model, list(dev[0]), list(dev[1]))
    return out


def merge_metrics(out_dir: Path, section: str, report: dict) -> None:
    """`metrics.json` of a model folder with one section (`post_labels`, `long_labels`)
    replaced."""
    path = out_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        metrics = {}
    metrics[section] = report
    path.write_text(json.dumps(metrics, indent=2) + "\n")
