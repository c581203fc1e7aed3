"""Fitting a taxonomy pack's category head on the lake's own posts."""

from __future__ import annotations

from opinion.config import Settings
from opinion.extract.stage import load_engine


def fit_taxonomy(
    settings: Settings, pack: str | None = None, echo=None, limit: int | None = None
) -> dict:
    """Fit the implicit-category head of a pack (default: the brand list's domain) on the
    lake's raw posts (the first `limit` by post_id, when given), weakly labelled by the pack
    itself (`opinion.nlp.categories`), and store it beside the pack: the pack's version
    changes, so the next `extract` redoes every partition with it."""

    from opinion.nlp.categories import FitConfig, fit_head, head_path
    from opinion.nlp.taxonomy import mapper_for, pack_path, taxonomy_for

    path = pack_path(settings, pack)
    if pack and path.stem != pack:
        raise ValueError(f"no taxonomy pack {pack!r} in {path.parent}")
    taxonomy = taxonomy_for(settings, path.stem)
    by_id: dict[str, str] = {}
    for part in settings.lake.list_partitions("raw"):
        table = part.read("posts", columns=["post_id", "text"])
        ids, bodies = table.column("post_id").to_pylist(), table.column("text").to_pylist()
        for post_id, text in zip(ids, bodies, strict=True):
            if text and text.strip():
                by_id[post_id] = text
    if not by_id:
        raise ValueError(f"no raw posts in {settings.lake_dir} (run `opinion collect` first)")
    texts = [by_id[k] for k in sorted(by_id)][:limit]  # post_id order: a stable sample
    engine = load_engine(settings)
    head, report = fit_head(
        texts, engine, mapper_for(settings, path.stem), taxonomy, FitConfig(), echo
    )
    out = head_path(path)
    head.save(out)
    report["head"] = str(out)
    report["taxonomy_version"] = taxonomy_for(settings, path.stem).version
    return report
