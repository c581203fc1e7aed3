"""The extract stage: which raw partitions are stale, and extracting them with one engine.

Models load once per process (`load_engine`); a partition that cannot be read is named and
skipped, the others go on. Called by the CLI, `opinion demo` and the Airflow extract DAG.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from opinion import lake
from opinion.config import Settings
from opinion.extract.partition import extract_partition, taxonomy_version
from opinion.progress import progress

log = logging.getLogger(__name__)


@dataclass
class ExtractReport:
    model_version: str
    partitions: int = 0
    posts: int = 0
    english: int = 0
    mentions: int = 0
    errors: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # unreadable raw partitions, with why


def load_engine(settings: Settings, model: str | None = None):
    """The ABSA engine with the domain's taxonomy attached (seed-term spotting, friction
    terms) when a pack applies; models load once per process."""
    from opinion.nlp.engine import AbsaEngine

    extra_spans = friction = implicit = None
    try:
        from opinion.nlp.taxonomy import friction_for, implicit_for, term_spotter_for

        extra_spans, friction = term_spotter_for(settings), friction_for(settings)
        implicit = implicit_for(settings)
    except FileNotFoundError:
        log.warning("no taxonomy pack found; extracting with the tagger alone")
    engine = AbsaEngine.load(
        model or settings.model, settings.batch_size, extra_spans=extra_spans, friction=friction
    )
    if implicit is not None and hasattr(engine.tagger, "_states"):  # needs the joint model
        engine.implicit = implicit
    engine.exclude = _brand_spans(settings)
    return engine


def _brand_spans(settings: Settings):
    """`BrandList.spans` of the brand list that applies (no brand is ever an aspect); None
    when the list cannot be read."""
    from opinion.clean.brands import load_brands

    try:
        return load_brands(settings).spans
    except (OSError, ValueError):
        return None


def _extract_all(settings: Settings, partitions: list, engine=None) -> ExtractReport:
    """Extract the given raw partitions with one engine (models load once), with progress."""
    import time

    started = time.time()
    engine = engine or load_engine(settings)
    from opinion.clean.brands import load_brands

    brands = load_brands(settings)
    report = ExtractReport(engine.version)
    readable, total = [], 0
    for part in partitions:
        try:
            total += int(part.metadata("posts").get(lake.META_ROW_COUNT, 0))
            readable.append(part)
        except (OSError, ValueError, pa.ArrowException) as exc:
            _skip(report, part, exc)
    bar = progress(None, total=total, desc="extract", unit="post")
    for part in readable:
        try:
            n, en, m, err = extract_partition(part, engine, brands, settings, bar.update)
        except (OSError, pa.ArrowException) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise
            _skip(report, part, exc)
            continue
        report.partitions += 1
        report.posts += n
        report.english += en
        report.mentions += m
        report.errors += err
    bar.close()
    report.seconds = round(time.time() - started, 1)
    return report


def _skip(report: ExtractReport, part, exc: BaseException) -> None:
    """A raw partition that cannot be read (truncated, not Parquet) is named and left out;
    the others are extracted. It stays pending until collect rewrites it."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    name = f"raw/source={part.source}/day={part.day}"
    log.warning("skipping unreadable partition %s: %s", name, first)
    report.skipped.append(f"{name}: {first[:200]}")


def extract(
    settings: Settings, engine=None, sources: Iterable[str] | None = None, force: bool = False
) -> ExtractReport:
    """Analyse every raw partition that is new, changed, or made by another model version."""
    from opinion.nlp.registry import model_version

    version = engine.version if engine is not None else model_version(settings.model)
    todo = (
        settings.lake.list_partitions("raw")
        if force
        else settings.lake.stale_raw_partitions(version, taxonomy_version(settings) or "")
    )
    if sources is not None:
        wanted = set(sources)
        todo = [p for p in todo if p.source in wanted]
    if not todo:
        return ExtractReport(version)
    return _extract_all(settings, todo, engine)


def pending_partitions(settings: Settings) -> list[str]:
    """Raw partitions (as `source/day`) that extract must (re)process for the current model."""
    from opinion.nlp.registry import model_version

    stale = settings.lake.stale_raw_partitions(
        model_version(settings.model), taxonomy_version(settings) or ""
    )
    return [f"{p.source}/{p.day}" for p in stale]


def extract_partitions(settings: Settings, names: Iterable[str], engine=None) -> dict:
    """Extract the given `source/day` raw partitions (one Airflow mapped task each)."""
    raw = {f"{p.source}/{p.day}": p for p in settings.lake.list_partitions("raw")}
    missing = [n for n in names if n not in raw]
    if missing:
        raise ValueError(f"no raw partition {missing[0]!r} in {settings.lake_dir}")
    return _extract_all(settings, [raw[n] for n in names], engine).__dict__
