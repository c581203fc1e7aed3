"""Implicit aspects: a multi-label category head over a taxonomy pack's categories.

"@united 3 hours and counting" names no aspect, yet it is about punctuality. The head reads
the post from the encoder pass the engine already made (the joint model's token states of
the tagging pass, mean-pooled: `post_features`), so it costs one small matrix product a post.

It is learned weakly from the user's own corpus (`opinion taxonomy fit`, `fit_head`): a post
whose seed terms or tagged aspects map to categories is an example of those categories; each
category's description and seed terms are examples too; no hand labels. The fitted head is
stored beside its pack (`{pack}.head.safetensors`, `head_path`), seeded and deterministic,
and its digest is part of the pack's version (`taxonomy.load_taxonomy`), so every mention
says which head produced it.

At extraction (`implicit_mentions`) every opinionated post (positive or negative) with no
mention mapped to a named category gets one implicit mention per category the head reads
(the most likely one, plus any other above `THRESHOLD`): no span, `implicit = true`, and the
post's own sentiment as polarity.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from opinion.records import stable_id

HEAD_SUFFIX = ".head.safetensors"
THRESHOLD = 0.5
OPINIONATED = ("positive", "negative")
log = logging.getLogger(__name__)


def head_path(pack_file: str | Path) -> Path:
    """Where a pack's fitted head lives: beside the pack (`airline.yaml` →
    `airline.head.safetensors`)."""
    pack_file = Path(pack_file)
    return pack_file.with_name(pack_file.stem + HEAD_SUFFIX)


def head_digest(path: Path) -> str | None:
    """Short content hash of a head file (None when there is none): part of the pack version."""
    return hashlib.sha1(path.read_bytes()).hexdigest()[:8] if path.exists() else None


# ------------------------------------------------------------ features


def post_features(
    tagger, texts: list[str], batch_size: int = 64, parts: list[list[str]] | None = None
):
    """Mean-pooled encoder states of each post, (len(texts), hidden) float32: the states the
    joint model kept from tagging them (`JointAbsa._states`, no extra pass) — for a long post
    read sentence by sentence (`parts[i]`), the mean over all its sentences' tokens; posts it
    has not kept (not tagged just now) are encoded here, first window."""
    import torch

    kept = getattr(tagger, "_states", None)
    if kept is None:
        raise ValueError(f"the category head needs the joint model; got {type(tagger).__name__}")
    found = {t: kept[t].float().mean(0) for t in texts if t in kept}
    for text, segs in zip(texts, parts or [], strict=False):
        if text not in found and len(segs) > 1 and all(seg in kept for seg in segs):
            found[text] = torch.cat([kept[seg].float() for seg in segs]).mean(0)
    # by length: each batch is padded to its longest post
    missing = sorted((t for t in dict.fromkeys(texts) if t not in found), key=len)
    device = next(tagger.model.parameters()).device
    for b in range(0, len(missing), batch_size):
        part = missing[b : b + batch_size]
        enc = tagger.tokenizer(
            part, truncation=True, max_length=256, padding=True, return_tensors="pt"
        )
        mask = enc["attention_mask"].to(device)
        with torch.inference_mode():
            states = tagger.model.forward(enc["input_ids"].to(device), mask).states.float()
        pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        found.update(zip(part, pooled.cpu(), strict=True))
    if not texts:
        return torch.zeros((0, tagger.model.config.hidden_size))
    return torch.stack([found[t].cpu() for t in texts])


# ------------------------------------------------------------ the head


@dataclass
class CategoryHead:
    """Logistic regression per category over pooled post states (multi-label)."""

    categories: list[str]
    weight: object  # torch tensor (n_categories, hidden)
    bias: object  # torch tensor (n_categories,)
    meta: dict
    warned: bool = False  # the stale-model warning is said once

    def probabilities(self, features):
        import torch

        return torch.sigmoid(features.float() @ self.weight.T + self.bias)

    def read(self, features) -> list[list[tuple[str, float]]]:
        """Per post: (category, probability), most likely first: the best one, plus every
        other at or above `THRESHOLD`."""
        out = []
        for row in self.probabilities(features).tolist():
            ranked = sorted(zip(self.categories, row, strict=True), key=lambda cp: -cp[1])
            keep = [ranked[0]] + [cp for cp in ranked[1:] if cp[1] >= THRESHOLD]
            out.append([(c, round(p, 4)) for c, p in keep])
        return out

    def annotate(
        self, texts: list[str], results: list, tagger, parts: list[list[str]] | None = None
    ) -> None:
        """The engine's implicit-category hook: fills `result.categories` for every post
        from the encoder states of the tagging pass that just ran (`parts[i]`: the segments a
        long post was read in, one pass each)."""
        fitted_on, now = self.fitted_on(tagger)
        if fitted_on != now and not self.warned:
            self.warned = True
            log.warning(
                "category head was fitted on %s, the model is %s: refit with "
                "`opinion taxonomy fit`",
                fitted_on,
                now,
            )
        features = post_features(tagger, texts, parts=parts)
        for res, cats, pooled in zip(results, self.read(features), features, strict=True):
            res.categories = cats
            res.pooled = pooled  # for the root-cause head, once the mentions are mapped

    def fitted_on(self, tagger) -> tuple[str | None, str | None]:
        """(the encoder the head was fitted on, the tagger's): the head reads encoder states
        only, so a refit post head (`opinion train --post-labels`) leaves it valid. Heads
        from before `encoder_version` was stored compare the whole model version."""
        if "encoder_version" in self.meta:
            return self.meta["encoder_version"], encoder_version(tagger)
        return self.meta.get("model_version"), getattr(tagger, "version", None)

    # -------------------------------------------------------- storage

    def save(self, path: Path, root=None) -> None:
        """Write the head (and the pack's root-cause head `root`, when given: its `root.*`
        tensors and metadata, `rootcause.RootCauseHead`) into one file: one digest for the
        pack version."""
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {**self.meta, "categories": self.categories}
        tensors = {"weight": self.weight.contiguous(), "bias": self.bias.contiguous()}
        metadata = {"opinion": json.dumps(meta, sort_keys=True)}
        if root is not None:
            tensors.update(root.tensors())
            metadata.update(root.metadata())
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: Path) -> CategoryHead:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("opinion", "{}"))
            weight, bias = fh.get_tensor("weight"), fh.get_tensor("bias")
        cats = list(meta.pop("categories", []))
        if len(cats) != weight.shape[0]:
            raise ValueError(f"{path}: head does not match its category list")
        return cls(cats, weight, bias, meta)


def load_head(taxonomy) -> CategoryHead | None:
    """The fitted head beside a loaded pack, if any (and only if it covers the pack's
    current categories)."""
    if taxonomy.path is None:
        return None
    path = head_path(taxonomy.path)
    if not path.exists():
        return None
    head = CategoryHead.load(path)
    unknown = [c for c in head.categories if c not in taxonomy.categories]
    if unknown:
        log.warning("%s names categories the pack lacks (%s): refit it", path, unknown[0])
        return None
    return head


# ------------------------------------------------------------ fitting


def category_examples(taxonomy) -> tuple[list[str], list[str]]:
    """(texts, category) from the pack itself: each category's description and seed terms."""
    texts, owners = [], []
    for cat in taxonomy.categories.values():
        for text in (cat.description, *cat.seeds):
            texts.append(text)
            owners.append(cat.name)
    return texts, owners


@dataclass(frozen=True)
class FitConfig:
    seed: int = 13
    epochs: int = 300
    lr: float = 0.01
    weight_decay: float = 1e-4
    chunk: int = 512


@dataclass
class Corpus:
    """What a fit needs of each text, read once: its pooled encoder states, the engine's
    result and its mapped explicit mentions (`read_corpus`)."""

    texts: list[str]
    pooled: object  # torch tensor (len(texts), hidden)
    results: list
    mentions: list[list[dict]]

    def sentiments(self) -> list[str | None]:
        return [None if r is None or r.error else r.sentiment for r in self.results]


def read_corpus(
    texts: list[str], engine, mapper, cfg: FitConfig = FitConfig(), echo=None, settle=None
):
    """Run the engine over `texts` once (no implicit mentions: labels come from aspects) and
    keep, per text, the pooled states of that very pass and its mapped mentions, each post's
    passed to `settle(mentions, sentiment)` when given (`rootcause.settler`: as extraction
    settles them)."""
    import torch

    say = echo or (lambda _m: None)
    hook, engine.implicit = engine.implicit, None
    feats, results, mentions = [], [], []
    try:
        for c in range(0, len(texts), cfg.chunk):
            part = texts[c : c + cfg.chunk]
            read = engine.analyze(part)
            feats.append(post_features(engine.tagger, part))
            found = [
                [
                    {
                        "term": a.term,
                        "aspect": a.aspect,
                        "polarity": a.polarity,
                        "confidence": a.confidence,
                    }
                    for a in (res.aspects if res is not None and not res.error else [])
                ]
                for res in read
            ]
            mapper([m for ms in found for m in ms])
            if settle is not None:
                for ms, res in zip(found, read, strict=True):
                    settle(ms, None if res is None else res.sentiment)
            results += read
            mentions += found
            say(f"read {min(c + cfg.chunk, len(texts))}/{len(texts)} posts")
    finally:
        engine.implicit = hook
    pooled = torch.cat(feats) if feats else torch.zeros((0, engine.tagger.model.config.hidden_size))
    return Corpus(list(texts), pooled, results, mentions)


def encoder_version(tagger) -> str | None:
    """What the category and root-cause heads' inputs depend on (`JointAbsa.encoder_version`;
    the whole model version for any other tagger)."""
    return getattr(tagger, "encoder_version", getattr(tagger, "version", None))


def fit_head(texts: list[str], engine, mapper, taxonomy, cfg: FitConfig = FitConfig(), echo=None):
    """Fit the head on a corpus (weak labels + the pack's own texts); returns (head, report)."""
    corpus = read_corpus(texts, engine, mapper, cfg, echo)
    own = read_corpus(category_examples(taxonomy)[0], engine, mapper, cfg)
    return fit_head_on(
        corpus, own, taxonomy, engine.tagger.version, cfg, encoder_version(engine.tagger)
    )


def fit_head_on(
    corpus: Corpus,
    own: Corpus,
    taxonomy,
    model_version: str,
    cfg=FitConfig(),
    encoder: str | None = None,
):
    """Fit the head on a read corpus (weak labels: the named categories of each post's
    mentions) and the pack's own texts (`own`, read from `category_examples`).

    Deterministic for a corpus, model and pack: posts are read in their given order, torch is
    seeded, full-batch training on CPU."""
    import torch

    cats = list(taxonomy.categories)
    index = {c: k for k, c in enumerate(cats)}
    labels = [
        {m["category"] for m in ms if m["category"] in taxonomy.categories}
        for ms in corpus.mentions
    ]
    labels += [{o} for o in category_examples(taxonomy)[1]]
    x = torch.cat([corpus.pooled, own.pooled])
    y = torch.zeros((len(labels), len(cats)))
    for i, found in enumerate(labels):
        for name in found:
            y[i, index[name]] = 1.0
    keep = y.sum(1) > 0
    x, y = x[keep], y[keep]
    if not len(x):
        raise ValueError("no post of the corpus names a category of the pack: nothing to learn")
    torch.manual_seed(cfg.seed)
    layer = torch.nn.Linear(x.shape[1], len(cats))
    positives = y.sum(0).clamp_min(1.0)
    pos_weight = ((len(y) - positives) / positives).clamp(max=20.0).sqrt()
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.Adam(layer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    with torch.enable_grad():
        for _ in range(cfg.epochs):
            opt.zero_grad()
            loss = loss_fn(layer(x), y)
            loss.backward()
            opt.step()
    corpus_sha = hashlib.sha1("\x1e".join(corpus.texts).encode("utf-8")).hexdigest()[:12]
    meta = {
        "pack": taxonomy.pack,
        "pack_version": taxonomy.base_version,
        "model_version": model_version,
        "encoder_version": encoder or model_version,
        "features": "joint encoder states of the tagging pass, mean-pooled",
        "corpus_posts": len(corpus.texts),
        "corpus_sha1": corpus_sha,
        "examples": int(keep.sum()),
        "seed": cfg.seed,
        "epochs": cfg.epochs,
    }
    head = CategoryHead(cats, layer.weight.detach().clone(), layer.bias.detach().clone(), meta)
    report = {
        **meta,
        "loss": round(float(loss.detach()), 4),
        "examples_per_category": {c: int(y[:, k].sum()) for k, c in enumerate(cats)},
    }
    return head, report


# ------------------------------------------------------------ extraction


def implicit_mentions(
    posts: list[tuple[str, object]], mapped: list[dict], model_version: str
) -> list[dict]:
    """Implicit mention dicts for the opinionated posts among `posts` ((post_id, PostResult))
    that have no mapped mention of a named category (`mapped`: mention dicts after the
    taxonomy mapper). The taxonomy mapper fills their touchpoint and version afterwards."""
    named = {m["post_id"] for m in mapped if m.get("category") not in (None, "other")}
    out = []
    for post_id, res in posts:
        if res is None or res.error or res.sentiment not in OPINIONATED or post_id in named:
            continue
        for category, prob in res.categories:
            out.append(
                {
                    "mention_id": stable_id(post_id, "implicit", category),
                    "post_id": post_id,
                    "term": None,
                    "start": None,
                    "end": None,
                    "aspect": None,
                    "polarity": res.sentiment,
                    "confidence": round(float(res.sentiment_confidence or 0.0) * prob, 4),
                    "model_version": model_version,
                    "category": category,
                    "touchpoint": None,
                    "cx_domain": None,
                    "taxonomy_version": None,
                    "implicit": True,
                }
            )
    return out
