"""Fitting a taxonomy pack's heads on the lake's own posts, and on your labels.

`fit_taxonomy` reads every text once (`categories.read_corpus`: the engine's pass, its pooled
encoder states and mapped mentions) and fits from it both heads stored beside the pack: the
implicit-category head (`opinion.nlp.categories`) and the root-cause head
(`opinion.nlp.rootcause`), the latter from the pack's weak labels plus, with `labels`, the
posts your team labelled (they count for more). `labelling_queue` writes the posts whose root
cause the fitted head is least sure about, spread out, for a person to label.
"""

from __future__ import annotations

import csv
from pathlib import Path

from opinion.config import Settings
from opinion.extract.stage import load_engine


def lake_posts(settings: Settings, limit: int | None = None) -> list[tuple[str, str]]:
    """(post_id, text) of the lake's raw posts with a text, in post_id order (the first
    `limit`, when given: a stable sample)."""
    by_id: dict[str, str] = {}
    for part in settings.lake.list_partitions("raw"):
        table = part.read("posts", columns=["post_id", "text"])
        ids, bodies = table.column("post_id").to_pylist(), table.column("text").to_pylist()
        for post_id, text in zip(ids, bodies, strict=True):
            if text and text.strip():
                by_id[post_id] = text
    return [(k, by_id[k]) for k in sorted(by_id)][:limit]


def _pack(settings: Settings, pack: str | None):
    from opinion.nlp.taxonomy import pack_path, taxonomy_for

    path = pack_path(settings, pack)
    if pack and path.stem != pack:
        raise ValueError(f"no taxonomy pack {pack!r} in {path.parent}")
    return path, taxonomy_for(settings, path.stem)


def read_labels(path, taxonomy, text_col: str = "text", label_col: str = "label") -> dict:
    """{text: allowed categories} from a labelled CSV / JSONL / Parquet file (a label is a
    touchpoint or category of the pack, several split by | or ;). Rows labelled only `other`
    are left out; an unknown name is a one-line error listing the pack's names."""
    from opinion.nlp.evaluate_touchpoint import read_labelled
    from opinion.nlp.rootcause import label_categories

    out: dict[str, set[str]] = {}
    for text, labels in read_labelled(path, text_col, label_col):
        allowed = label_categories(labels, taxonomy, where=f"{path}: ")
        if allowed:
            out.setdefault(text, set()).update(allowed)
    if not out:
        raise ValueError(f"{path}: no row labelled with a touchpoint or category of the pack")
    return out


def fit_taxonomy(
    settings: Settings,
    pack: str | None = None,
    echo=None,
    limit: int | None = None,
    labels: str | Path | None = None,
    text_col: str = "text",
    label_col: str = "label",
) -> dict:
    """Fit the heads of a pack (default: the brand list's domain) on the lake's raw posts
    (the first `limit` by post_id, when given), weakly labelled by the pack itself, plus the
    labelled posts of `labels`, and store them beside the pack: the pack's version changes,
    so the next `extract` redoes every partition with them."""
    from opinion.nlp.categories import (
        FitConfig,
        category_examples,
        encoder_version,
        fit_head_on,
        head_path,
        read_corpus,
    )
    from opinion.nlp.rootcause import fit_root_head, settler, weak_label
    from opinion.nlp.taxonomy import mapper_for, taxonomy_for

    path, taxonomy = _pack(settings, pack)
    labelled = read_labels(labels, taxonomy, text_col, label_col) if labels else {}
    texts = [text for _, text in lake_posts(settings, limit)]
    if not texts and not labelled:
        raise ValueError(f"no raw posts in {settings.lake_dir} (run `opinion collect` first)")
    texts = list(dict.fromkeys(texts + list(labelled)))
    engine = load_engine(settings)
    mapper = mapper_for(settings, path.stem)
    cfg = FitConfig()
    settle = settler(taxonomy)
    corpus = read_corpus(texts, engine, mapper, cfg, echo, settle)
    own_texts, owners = category_examples(taxonomy)
    own = read_corpus(own_texts, engine, mapper, cfg, None, settle)
    head, report = fit_head_on(
        corpus, own, taxonomy, engine.tagger.version, cfg, encoder_version(engine.tagger)
    )
    cats = set(taxonomy.categories)
    import torch

    sentiments = corpus.sentiments() + own.sentiments()
    mentions = corpus.mentions + own.mentions
    allowed = [
        labelled.get(t) or weak_label(ms, s, cats)
        for t, ms, s in zip(corpus.texts, corpus.mentions, corpus.sentiments(), strict=True)
    ] + [{o} for o in owners]
    is_labelled = [t in labelled for t in corpus.texts] + [False] * len(owners)
    root = fit_root_head(
        corpus.texts + own.texts,
        torch.cat([corpus.pooled, own.pooled]),
        mentions,
        sentiments,
        allowed,
        is_labelled,
        taxonomy,
    )
    root.meta.update({"pack_version": taxonomy.base_version, "labels": str(labels or "")})
    out = head_path(path)
    head.save(out, root)
    report["root_cause"] = root.meta
    report["head"] = str(out)
    report["taxonomy_version"] = taxonomy_for(settings, path.stem).version
    return report


def labelling_queue(
    settings: Settings,
    out: str | Path,
    n: int = 200,
    pack: str | None = None,
    echo=None,
    limit: int | None = None,
) -> dict:
    """Write the `n` opinionated lake posts whose root cause the fitted head is least sure
    about, spread out (no near-copies), as CSV: post_id, text, the model's guess (category
    and touchpoint) and confidence, and an empty `label` column for a person to fill. The
    file goes back into `opinion taxonomy fit --labels`."""
    from opinion.nlp.categories import FitConfig, read_corpus
    from opinion.nlp.rootcause import OPINIONATED, load_root_head, settler, spread_out
    from opinion.nlp.taxonomy import mapper_for

    path, taxonomy = _pack(settings, pack)
    root = load_root_head(taxonomy)
    if root is None:
        raise ValueError(f"pack {path.stem!r} has no fitted head: run `opinion taxonomy fit` first")
    posts = lake_posts(settings, limit)
    if not posts:
        raise ValueError(f"no raw posts in {settings.lake_dir} (run `opinion collect` first)")
    engine = load_engine(settings)
    mapper = mapper_for(settings, path.stem)
    corpus = read_corpus(
        [t for _, t in posts], engine, mapper, FitConfig(), echo, settler(taxonomy)
    )
    guesses = root.read(corpus.texts, corpus.pooled, corpus.mentions, corpus.sentiments())
    pool = [i for i, s in enumerate(corpus.sentiments()) if s in OPINIONATED]
    chosen = spread_out(corpus.pooled[pool], [guesses[i][2] for i in pool], n)
    rows = [pool[k] for k in chosen]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["post_id", "text", "guess", "guess_touchpoint", "confidence", "label"])
        for i in rows:
            tp, cat, conf = guesses[i]
            writer.writerow([posts[i][0], posts[i][1], cat, tp, f"{conf:.3f}", ""])
    return {"out": str(out), "rows": len(rows), "posts_read": len(posts), "pack": path.stem}
