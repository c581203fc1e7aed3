"""Root cause: the one touchpoint and category each post is mainly about.

"@united my flight was Late Flight and then I was on hold for 2 hours" names a delay and a
phone queue; the complaint's cause is the delay. Counting mentions picks whichever is named
more often, so the call wins. The root-cause head is a small classifier that reads

- the post's meaning: the joint encoder's token states of the tagging pass, mean-pooled
  (`categories.post_features`, no extra encoder pass), and
- the post's mention evidence: per category of the pack, how strongly its explicit mentions
  read negative, neutral and positive (noisy-or of their confidences), and the post's own
  sentiment,
- the post's words: hashed lemmas and lemma pairs (@handles and URLs left out),

and outputs one probability per category (a linear layer plus a weight per hashed word).
The primary touchpoint is the touchpoint with the largest summed probability, the primary
category the most likely category under it, and the confidence that touchpoint's
probability (`RootCauseHead.primary`).

It is fitted by `opinion taxonomy fit` (`fit_root_head`) from two kinds of examples trained
together: the pack's weak labels (the categories a post's mentions of its own sentiment map
to; each category's description and seed terms) and, with `--labels FILE`, posts your team
labelled with a touchpoint or category, which count `LABEL_WEIGHT` times more. A label may be
a touchpoint (any of its categories is right) or several names (`a|b`); the loss is the
negative log of the probability the model gives the allowed set. The head is stored in the
pack's head file beside the category head (`root.*` tensors), so its digest is part of the
pack's version. No rule is written per complaint reason: the mapping is learned.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

OTHER = "other"
POLARITIES = ("negative", "neutral", "positive")
ROOT_PREFIX = "root."
ROOT_META = "opinion_root"
OPINIONATED = ("positive", "negative")
LABEL_WEIGHT = 100.0  # a labelled example counts as this many weak ones (docs/taxonomy.md)
WORD_BUCKETS = 1 << 14  # hashed word and bigram features
_WORD = re.compile(r"[a-z][a-z']+")
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+")


# ------------------------------------------------------------ evidence


def evidence_row(mentions: list[dict], index: dict[str, int]) -> list[float]:
    """Per category × polarity, the noisy-or of the confidences of the post's explicit
    mentions of that category read with that polarity (0 when none), in `index` order."""
    none_left = [1.0] * (len(index) * len(POLARITIES))
    for m in mentions:
        if m.get("implicit"):
            continue
        k = index.get(str(m.get("category")))
        pol = m.get("polarity")
        if k is None or pol not in POLARITIES:
            continue
        j = k * len(POLARITIES) + POLARITIES.index(pol)
        none_left[j] *= 1.0 - min(max(float(m.get("confidence") or 0.5), 0.0), 1.0)
    return [round(1.0 - v, 6) for v in none_left]


def sentiment_row(sentiment: str | None) -> list[float]:
    return [1.0 if sentiment == p else 0.0 for p in POLARITIES]


def weak_label(mentions: list[dict], sentiment: str | None, categories: set[str]) -> set[str]:
    """The pack's own guess at a post's root cause: the named categories of its explicit
    mentions that share the post's sentiment (all its named ones when none does)."""
    named = [m for m in mentions if not m.get("implicit") and m.get("category") in categories]
    same = {m["category"] for m in named if m.get("polarity") == sentiment}
    return same or {m["category"] for m in named}


def friction_categories(taxonomy) -> frozenset[str]:
    """The pack's friction-prone categories: those a friction term of the pack maps to
    ("lost bag" → lost_delayed_bags, "on hold" → phone_hold)."""
    found = {taxonomy.resolve(taxonomy.lookup(t) or OTHER) for t in taxonomy.friction}
    return frozenset(found & set(taxonomy.categories))


def settle_friction(mentions: list[dict], sentiment: str | None, prone: frozenset[str]) -> int:
    """In a negative post, an explicit mention of a friction-prone category that reads
    neutral takes the post's polarity ("@united where is my bag?" is a baggage complaint);
    returns how many changed. Measured on the airline dev split (docs/taxonomy.md)."""
    if sentiment != "negative" or not prone:
        return 0
    changed = 0
    for m in mentions:
        if not m.get("implicit") and m.get("polarity") == "neutral" and m.get("category") in prone:
            m["polarity"] = "negative"
            changed += 1
    return changed


def settler(taxonomy):
    """`settle(mentions, sentiment)` for one post with the pack's friction-prone categories
    (what `categories.read_corpus` takes)."""
    prone = friction_categories(taxonomy)
    return lambda mentions, sentiment: settle_friction(mentions, sentiment, prone)


def settle_posts(mentions: list[dict], sentiment_of: dict, taxonomy) -> int:
    """`settle_friction` over mapped mention dicts of many posts (`sentiment_of`: post key →
    the post's sentiment; a mention's key is its `post_id`, else its `post`)."""
    prone = friction_categories(taxonomy)
    by_post: dict = defaultdict(list)
    for m in mentions:
        by_post[m.get("post_id", m.get("post"))].append(m)
    return sum(settle_friction(ms, sentiment_of.get(k), prone) for k, ms in by_post.items())


# ------------------------------------------------------------ labels


def _key(label: str) -> str:
    return label.strip().lower().replace(" ", "_").replace("-", "_")


def label_categories(labels: list[str], taxonomy, where: str = "") -> set[str]:
    """The categories a row's labels allow: a category itself, a touchpoint all of its
    categories, `other` none. An unknown name raises a one-line ValueError that lists the
    pack's touchpoints and categories."""
    allowed: set[str] = set()
    for label in labels:
        key = _key(label)
        if key == OTHER:
            continue
        if key in taxonomy.touchpoints:
            allowed |= {c.name for c in taxonomy.categories.values() if c.touchpoint == key}
        elif taxonomy.resolve(key) in taxonomy.categories:
            allowed.add(taxonomy.resolve(key))
        else:
            tps = ", ".join(t for t in taxonomy.touchpoints if t != OTHER)
            cats = ", ".join(taxonomy.categories)
            raise ValueError(
                f"{where}unknown label {label!r}: pack {taxonomy.pack!r} names the "
                f"touchpoints {tps} and the categories {cats}"
            )
    return allowed


# ------------------------------------------------------------ the head


def word_ids(text: str) -> list[int]:
    """The post's words as hashed feature ids: lower-cased lemmas (spaCy's lookup table,
    `linguistic.lemma`) and lemma bigrams, @handles and URLs left out, each once."""
    from opinion.nlp.linguistic import lemma

    words = [lemma(w) for w in _WORD.findall(_NOISE.sub(" ", text.lower()))]
    grams = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    return sorted({zlib.crc32(g.encode("utf-8")) % WORD_BUCKETS for g in grams})


def _bags(texts: list[str]):
    """(ids, offsets, per-id weights) of `word_ids` for `embedding_bag` (weight 1/sqrt(n))."""
    import torch

    ids, offsets, weights = [], [], []
    for text in texts:
        found = word_ids(text or "")
        offsets.append(len(ids))
        ids += found
        weights += [1.0 / math.sqrt(len(found))] * len(found)
    return (
        torch.tensor(ids, dtype=torch.long),
        torch.tensor(offsets, dtype=torch.long),
        torch.tensor(weights, dtype=torch.float32),
    )


@dataclass
class RootCauseHead:
    """Softmax over the pack's categories: a linear layer over [standardised pooled states,
    mention evidence, sentiment] plus a weight per hashed word of the post."""

    categories: list[str]
    touchpoints: list[str]  # the touchpoint of each category
    params: dict  # name -> torch tensor: mean, std, weight, bias, words
    meta: dict = field(default_factory=dict)

    def features(self, pooled, evidence, sentiment):
        import torch

        pooled = (pooled.float() - self.params["mean"]) / self.params["std"]
        return torch.cat([pooled, evidence.float(), sentiment.float()], 1)

    def logits(self, x, texts: list[str]):
        import torch

        p = self.params
        ids, offsets, weights = _bags(texts)
        words = torch.nn.functional.embedding_bag(
            ids, p["words"], offsets, mode="sum", per_sample_weights=weights
        )
        return x @ p["weight"].T + p["bias"] + words

    def probabilities(self, x, texts: list[str]):
        return self.logits(x, texts).softmax(-1)

    def primary(self, x, texts: list[str]) -> list[tuple[str, str, float]]:
        """(touchpoint, category, confidence) per row: the touchpoint with the largest
        summed category probability, its most likely category, and that touchpoint's
        probability."""
        out = []
        for row in self.probabilities(x, texts).tolist():
            by_tp: dict[str, float] = {}
            for tp, p in zip(self.touchpoints, row, strict=True):
                by_tp[tp] = by_tp.get(tp, 0.0) + p
            tp = max(by_tp, key=by_tp.__getitem__)
            best = max((k for k, t in enumerate(self.touchpoints) if t == tp), key=row.__getitem__)
            out.append((tp, self.categories[best], round(min(by_tp[tp], 1.0), 4)))
        return out

    def read(self, texts, pooled, mentions: list[list[dict]], sentiments: list[str | None]):
        """`primary` for posts given their texts, pooled states, mapped mentions and
        sentiment."""
        x = self.features(*self.inputs(pooled, mentions, sentiments))
        return self.primary(x, texts)

    def inputs(self, pooled, mentions: list[list[dict]], sentiments: list[str | None]):
        import torch

        index = {c: k for k, c in enumerate(self.categories)}
        ev = torch.tensor([evidence_row(ms, index) for ms in mentions], dtype=torch.float32)
        se = torch.tensor([sentiment_row(s) for s in sentiments], dtype=torch.float32)
        return pooled, ev.reshape(len(mentions), -1), se.reshape(len(mentions), -1)

    # -------------------------------------------------------- storage

    def tensors(self) -> dict:
        return {ROOT_PREFIX + k: v.contiguous() for k, v in self.params.items()}

    def metadata(self) -> dict[str, str]:
        doc = {**self.meta, "categories": self.categories, "touchpoints": self.touchpoints}
        return {ROOT_META: json.dumps(doc, sort_keys=True)}

    @classmethod
    def from_file(cls, path) -> RootCauseHead | None:
        """The root-cause head stored in a pack's head file; None when it holds none."""
        from safetensors import safe_open

        with safe_open(str(path), "pt") as fh:
            raw = (fh.metadata() or {}).get(ROOT_META)
            if not raw:
                return None
            params = {
                k[len(ROOT_PREFIX) :]: fh.get_tensor(k)
                for k in fh.keys()  # noqa: SIM118 - safe_open has no __iter__
                if k.startswith(ROOT_PREFIX)
            }
        meta = json.loads(raw)
        cats, tps = list(meta.pop("categories")), list(meta.pop("touchpoints"))
        return cls(cats, tps, params, meta)


def load_root_head(taxonomy) -> RootCauseHead | None:
    """The root-cause head in the pack's head file, if any, and only if its categories are
    the pack's current ones (touchpoints re-read from the pack)."""
    from opinion.nlp.categories import head_path

    if taxonomy.path is None:
        return None
    path = head_path(taxonomy.path)
    if not path.exists():
        return None
    head = RootCauseHead.from_file(path)
    if head is None or any(c not in taxonomy.categories for c in head.categories):
        return None
    head.touchpoints = [taxonomy.categories[c].touchpoint for c in head.categories]
    return head


def dominant_touchpoint(mentions: list[dict], sentiment: str | None) -> str:
    """The touchpoint carrying most of a post's mentions of its own sentiment (all of its
    mentions when none shares it); `other` when no mention names a touchpoint."""
    named = [m for m in mentions if m.get("touchpoint") not in (None, OTHER)]
    same = [m for m in named if m.get("polarity") == sentiment]
    pool = same or named
    if not pool:
        return OTHER
    count: Counter = Counter()
    weight: dict[str, float] = defaultdict(float)
    first: dict[str, int] = {}
    for k, m in enumerate(pool):
        tp = m["touchpoint"]
        count[tp] += 1
        weight[tp] += float(m.get("confidence") or 0.0)
        first.setdefault(tp, k)
    return max(count, key=lambda tp: (count[tp], weight[tp], -first[tp]))


def mention_primary(mentions: list[dict], sentiment: str | None, taxonomy):
    """Today's mention-based answer, for packs with no fitted head: the dominant touchpoint
    (most mentions of the post's sentiment) and its most frequent category; no confidence."""
    tp = dominant_touchpoint(mentions, sentiment)
    if tp == OTHER:
        return None, None, None
    cats = Counter(
        m["category"]
        for m in mentions
        if m.get("touchpoint") == tp and m.get("category") in taxonomy.categories
    )
    return tp, (cats.most_common(1)[0][0] if cats else None), None


# ------------------------------------------------------------ fitting


@dataclass(frozen=True)
class RootFitConfig:
    seed: int = 13
    epochs: int = 300
    lr: float = 0.01
    weight_decay: float = 1e-4
    label_weight: float = LABEL_WEIGHT  # a labelled example counts this many weak ones
    evidence_dropout: float = 0.0  # weak examples: share whose evidence is hidden in training


def fit_root_head(
    texts: list[str],
    pooled,
    mentions: list[list[dict]],
    sentiments: list[str | None],
    allowed: list[set[str] | None],
    labelled: list[bool],
    taxonomy,
    cfg: RootFitConfig = RootFitConfig(),
):
    """Fit the head on examples: per example its text, pooled states, mapped mentions,
    sentiment, the allowed categories (None or empty: no label, left out) and whether a
    person labelled it. Weak examples weigh 1 each, labelled ones `label_weight` each.
    Deterministic: seeded, full batch, CPU."""
    import torch

    cats = list(taxonomy.categories)
    index = {c: k for k, c in enumerate(cats)}
    keep = [i for i, a in enumerate(allowed) if a]
    if not keep:
        raise ValueError("no example names a category of the pack: nothing to learn")
    tps = [taxonomy.categories[c].touchpoint for c in cats]
    head = RootCauseHead(cats, tps, {})
    x_states = pooled[keep].float()
    head.params = {"mean": x_states.mean(0), "std": x_states.std(0).clamp_min(1e-4)}
    _, ev, se = head.inputs(x_states, [mentions[i] for i in keep], [sentiments[i] for i in keep])
    is_lab = torch.tensor([bool(labelled[i]) for i in keep])
    n_lab = int(is_lab.sum())
    if cfg.evidence_dropout:
        gen = torch.Generator().manual_seed(cfg.seed)
        hide = (torch.rand(len(keep), generator=gen) < cfg.evidence_dropout) & ~is_lab
        ev = ev * (~hide)[:, None]
    x = head.features(x_states, ev, se)
    bags = _bags([texts[i] for i in keep])
    mask = torch.zeros((len(keep), len(cats)), dtype=torch.bool)
    for r, i in enumerate(keep):
        for c in allowed[i]:
            mask[r, index[c]] = True
    weight = torch.where(is_lab, torch.tensor(float(cfg.label_weight)), torch.tensor(1.0))
    weight = weight / weight.sum()
    torch.manual_seed(cfg.seed)
    layer = torch.nn.Linear(x.shape[1], len(cats))
    words = torch.nn.EmbeddingBag(WORD_BUCKETS, len(cats), mode="sum")
    torch.nn.init.zeros_(words.weight)
    params = [*layer.parameters(), *words.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    with torch.enable_grad():
        for _ in range(cfg.epochs):
            opt.zero_grad()
            logits = layer(x) + words(bags[0], bags[1], per_sample_weights=bags[2])
            logp = logits.log_softmax(-1)
            set_logp = torch.logsumexp(logp.masked_fill(~mask, -math.inf), -1)
            loss = -(weight * set_logp).sum()
            loss.backward()
            opt.step()
    head.params.update(
        {
            "weight": layer.weight.detach().clone(),
            "bias": layer.bias.detach().clone(),
            "words": words.weight.detach().clone(),
        }
    )
    head.meta = {
        "features": "mean-pooled joint encoder states + per-category mention evidence + "
        "post sentiment + hashed lemma words and bigrams",
        "weak_examples": len(keep) - n_lab,
        "labelled_examples": n_lab,
        "label_weight": cfg.label_weight,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "loss": round(float(loss.detach()), 4),
    }
    return head


# ------------------------------------------------------------ extraction


def primaries(posts: list[tuple], mapped: list[dict], taxonomy, head=None) -> dict:
    """{post_id: (touchpoint, category, confidence)} for the posts among `posts` ((post_id,
    text, PostResult)) the engine read (neutral ones too: a complaint read as neutral still
    has a cause), from their mapped mentions (`mapped`, implicit ones included) and the
    pooled states the category head's hook kept (`PostResult.pooled`). With no root-cause
    head, or a post without kept states, the mention-based answer (`mention_primary`,
    confidence None); a post with neither gets no entry."""
    import torch

    by_post: dict[str, list[dict]] = {}
    for m in mapped:
        by_post.setdefault(m["post_id"], []).append(m)
    todo = [(pid, text, res) for pid, text, res in posts if res is not None and not res.error]
    out: dict = {}
    learned = [t for t in todo if head is not None and t[2].pooled is not None]
    if learned:
        read = head.read(
            [text for _, text, _ in learned],
            torch.stack([res.pooled for *_, res in learned]),
            [by_post.get(pid, []) for pid, *_ in learned],
            [res.sentiment for *_, res in learned],
        )
        out.update({pid: found for (pid, *_), found in zip(learned, read, strict=True)})
    for pid, _, res in todo:
        if pid not in out:
            found = mention_primary(by_post.get(pid, []), res.sentiment, taxonomy)
            if found[0] is not None:
                out[pid] = found
    return out


def spread_out(pooled, confidences: list[float], n: int, pool_factor: int = 5, near=0.95):
    """Indices of up to `n` rows to label: least sure first, spread out. The candidates are
    the `pool_factor * n` least sure rows; the least sure is taken, then each time the
    candidate with the largest (1 - confidence) × cosine distance (pooled states) to its
    nearest pick; a near-copy of a pick (cosine ≥ `near`) is never taken. Returned least sure
    first."""
    import torch

    order = sorted(range(len(confidences)), key=lambda i: (confidences[i], i))[: pool_factor * n]
    if not order or n <= 0:
        return []
    x = torch.nn.functional.normalize(pooled[order].float(), dim=-1)
    unsure = 1.0 - torch.tensor([confidences[i] for i in order], dtype=torch.float32)
    chosen = [0]
    nearest = x @ x[0]
    while len(chosen) < n:
        score = unsure * (1.0 - nearest)
        score[nearest >= near] = -math.inf
        score[chosen] = -math.inf
        j = int(score.argmax())
        if score[j] == -math.inf:
            break
        chosen.append(j)
        nearest = torch.maximum(nearest, x @ x[j])
    return sorted((order[j] for j in chosen), key=lambda i: (confidences[i], i))
