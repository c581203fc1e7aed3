"""`opinion train`: fine-tune the embedded MiniLM for aspect extraction and aspect sentiment.

Reproducible on a 2-core CPU: seeded shuffles and init, length-bucketed batches (little
padding), bf16 autocast where the CPU supports it, frozen word embeddings (they are the bulk
of the weights and need no task tuning). Writes int8 deltas (`delta.py`), `metrics.json` with
the dev-split numbers measured on the *saved* files, and leaves the model card to cite them.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from opinion.nlp.absa_data import AbsaExample, read_jsonl, split_dev
from opinion.nlp.polarity import CLASSES, Target, encode_targets
from opinion.nlp.tagger import bio_labels

log = logging.getLogger(__name__)

TAGGER_FILES = (
    "restaurants14.train.full.jsonl",
    "restaurants14.train.jsonl",
    "laptops14.train.full.jsonl",
    "laptops14.train.jsonl",
    "restaurants16.train.jsonl",
)
POLARITY_FILES = (
    "restaurants14.train.jsonl",
    "laptops14.train.jsonl",
    "restaurants16.train.jsonl",
    "mams.train.jsonl",
    "twitter14.train.jsonl",
)


@dataclass
class TrainConfig:
    """Hyper-parameters; the defaults reproduce the committed model."""

    data_dir: Path
    out_dir: Path
    seed: int = 13
    tagger_epochs: int = 3
    tagger_lr: float = 1e-4
    polarity_epochs: int = 3
    polarity_lr: float = 8e-5
    batch_size: int = 32
    dev_share: float = 0.1
    limit: int | None = None  # cap examples per file (smoke runs and tests)
    parts: tuple[str, ...] = ("tagger", "polarity")

    def __post_init__(self) -> None:
        self.data_dir, self.out_dir = Path(self.data_dir), Path(self.out_dir)
        bad = set(self.parts) - {"tagger", "polarity"}
        if bad:
            raise ValueError(f"unknown part(s) to train: {sorted(bad)}")
        if not self.data_dir.is_dir():
            raise FileNotFoundError(f"training data folder not found: {self.data_dir}")


def _load(cfg: TrainConfig, files: tuple[str, ...]) -> dict[str, tuple[list, list]]:
    splits = {}
    for name in files:
        path = cfg.data_dir / name
        if not path.exists():
            raise FileNotFoundError(f"training file missing: {path}")
        examples = read_jsonl(path)
        if cfg.limit:
            examples = examples[: cfg.limit]
        splits[name] = split_dev(examples, cfg.dev_share)
    return splits


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, then sort within chunks of 50 batches by length: little padding, still random."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for c in range(0, len(idx), chunk):
        part = sorted(idx[c : c + chunk], key=lambda i: lengths[i])
        batches += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _fit(
    model, tokenizer, features: list[dict], epochs: int, lr: float, cfg: TrainConfig, what: str
) -> dict:
    """A plain AdamW loop with linear warm-up/decay; returns timing figures."""
    import torch

    from opinion.nlp.backbone import train_in_bf16

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    rng = random.Random(cfg.seed)
    lengths = [len(f["input_ids"]) for f in features]
    steps = epochs * math.ceil(len(features) / cfg.batch_size)
    warmup = max(1, int(0.06 * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    use_bf16 = train_in_bf16()
    started, step = time.time(), 0
    total = 0.0
    for epoch in range(epochs):
        for batch_idx in _batches(lengths, cfg.batch_size, rng):
            feats = [features[i] for i in batch_idx]
            labels = [f.pop("labels") for f in feats]
            batch = tokenizer.pad(feats, return_tensors="pt")
            for f, lab in zip(feats, labels, strict=True):
                f["labels"] = lab
            if isinstance(labels[0], list):
                width = batch["input_ids"].shape[1]
                labels = [lab + [-100] * (width - len(lab)) for lab in labels]
            batch["labels"] = torch.tensor(labels)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=use_bf16):
                loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += loss.item()
            step += 1
            if step % 100 == 0:
                log.info("%s step %d/%d loss %.4f", what, step, steps, total / 100)
                total = 0.0
        log.info("%s epoch %d done in %.0fs", what, epoch + 1, time.time() - started)
    model.eval()
    return {
        "examples": len(features),
        "epochs": epochs,
        "steps": steps,
        "seconds": round(time.time() - started, 1),
    }


def _new_model(auto_cls, seed: int, **kwargs):
    import torch

    from opinion.nlp.backbone import embedded_encoder_dir

    torch.manual_seed(seed)
    model = auto_cls.from_pretrained(embedded_encoder_dir(), **kwargs)
    for p in model.base_model.embeddings.parameters():
        p.requires_grad = False
    base = auto_cls.from_pretrained(embedded_encoder_dir(), **kwargs)
    return model, base


def train_tagger(cfg: TrainConfig, tokenizer, log_fn: Callable = log.info) -> dict:
    from transformers import AutoModelForTokenClassification

    from opinion.nlp.registry import TAGGER_FILE

    splits = _load(cfg, TAGGER_FILES)
    train = [ex for tr, _ in splits.values() for ex in tr]
    features = []
    for ex in train:
        enc = tokenizer(ex.text, truncation=True, max_length=128, return_offsets_mapping=True)
        spans = [(a.start, a.end) for a in ex.aspects]
        labels = bio_labels([tuple(o) for o in enc.pop("offset_mapping")], spans)
        features.append({**enc, "labels": labels})
    model, base = _new_model(
        AutoModelForTokenClassification,
        cfg.seed,
        num_labels=3,
        id2label={0: "O", 1: "B-ASP", 2: "I-ASP"},
    )
    log_fn(f"tagger: {len(features)} sentences from {len(splits)} files")
    fit = _fit(model, tokenizer, features, cfg.tagger_epochs, cfg.tagger_lr, cfg, "tagger")
    return _save(cfg, model, base, fit, TAGGER_FILE, "aspect-term-extraction", splits)


def train_polarity(cfg: TrainConfig, tokenizer, log_fn: Callable = log.info) -> dict:
    from transformers import AutoModelForSequenceClassification

    from opinion.nlp.registry import POLARITY_FILE

    splits = _load(cfg, POLARITY_FILES)
    targets, labels = [], []
    for tr, _ in splits.values():
        for ex in tr:
            for a in ex.aspects:
                if a.polarity in CLASSES:
                    targets.append(Target(ex.text, a.start, a.end))
                    labels.append(CLASSES.index(a.polarity))
    enc = encode_targets(tokenizer, targets)
    features = [{**{k: enc[k][i] for k in enc}, "labels": label} for i, label in enumerate(labels)]
    model, base = _new_model(AutoModelForSequenceClassification, cfg.seed, num_labels=3)
    log_fn(f"polarity: {len(features)} aspects from {len(splits)} files")
    fit = _fit(model, tokenizer, features, cfg.polarity_epochs, cfg.polarity_lr, cfg, "polarity")
    return _save(cfg, model, base, fit, POLARITY_FILE, "aspect-sentiment", splits)


def _save(cfg: TrainConfig, model, base, fit: dict, file: str, task: str, splits: dict) -> dict:
    """Write the part's delta file; the report keeps the dev splits for `dev_metrics`."""
    from opinion.nlp.delta import save_delta

    size = save_delta(
        model.float(), base, cfg.out_dir / file, {"task": task, "seed": str(cfg.seed)}
    )
    return {
        **fit,
        "bytes": size,
        "files": list(splits),
        "dev": {name: dev for name, (_, dev) in splits.items()},
    }


def dev_metrics(cfg: TrainConfig, dev: dict[str, dict[str, list[AbsaExample]]]) -> dict:
    """Metrics of the saved files on the dev splits, per source file."""
    from opinion.nlp.evaluate import evaluate_ate, evaluate_atsc, evaluate_lexicon
    from opinion.nlp.registry import ModelSpec, load_polarity, load_tagger

    spec = ModelSpec(embedded_dir=str(cfg.out_dir))
    out: dict = {}
    if "tagger" in dev:
        tagger = load_tagger(spec)
        out["ate"] = {name: evaluate_ate(tagger, exs) for name, exs in dev["tagger"].items()}
    if "polarity" in dev:
        polarity = load_polarity(spec)
        out["atsc"] = {name: evaluate_atsc(polarity, exs) for name, exs in dev["polarity"].items()}
        out["atsc_vader_baseline"] = {
            name: evaluate_lexicon(exs) for name, exs in dev["polarity"].items()
        }
        mams_dev = cfg.data_dir / "mams.dev.jsonl"
        if mams_dev.exists():
            exs = read_jsonl(mams_dev)[: cfg.limit or None]
            out["atsc"]["mams.dev.jsonl"] = evaluate_atsc(polarity, exs)
    return out


def train_all(cfg: TrainConfig, log_fn: Callable = log.info) -> dict:
    """Train the requested parts, save them under `cfg.out_dir`, and write metrics.json."""
    from transformers import AutoTokenizer

    from opinion.nlp.backbone import configure_torch, embedded_encoder_dir
    from opinion.nlp.registry import _quiet_transformers

    _quiet_transformers()
    configure_torch()
    random.seed(cfg.seed)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(embedded_encoder_dir())
    report: dict = {"config": {k: str(v) for k, v in asdict(cfg).items()}}
    dev: dict = {}
    for part, fn in (("tagger", train_tagger), ("polarity", train_polarity)):
        if part in cfg.parts:
            result = fn(cfg, tokenizer, log_fn)
            dev[part] = result.pop("dev")
            report[part] = result
            log_fn(f"{part}: trained in {result['seconds']}s, {result['bytes'] / 1e6:.1f} MB")
    report["dev_metrics"] = dev_metrics(cfg, dev)
    (cfg.out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
