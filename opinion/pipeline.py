"""The stages as plain functions: collect → extract → load (and `demo`, all three).

Called by the CLI, the tests and the Airflow DAGs alike. Each stage reads and writes the lake,
re-running any stage replaces its output (idempotent), and only `load` touches DuckDB.
Privacy is applied in one place, `to_post`, before anything is written: authors hashed,
e-mails/phones/handles redacted, the raw payload scrubbed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from opinion import lake
from opinion.config import Settings
from opinion.records import Post, RawRecord, Reject

log = logging.getLogger(__name__)


@dataclass
class CollectReport:
    source: str
    read: int = 0
    posts: int = 0
    rejected: int = 0
    duplicates: int = 0
    partitions_written: int = 0
    partitions_unchanged: int = 0
    retracted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class ExtractReport:
    model_version: str
    partitions: int = 0
    posts: int = 0
    english: int = 0
    mentions: int = 0
    errors: int = 0
    seconds: float = 0.0


class CollectQualityError(ValueError):
    """A batch that does not look like the source's data (too many rejected rows, or a full
    read far smaller than what the lake holds): nothing is written, the cursor stays, and
    retrying the same input cannot pass. Fix the input or the job, then collect again."""


#: Reject-ratio guard: a batch of at least this many records fails when more than
#: `OPINION_MAX_REJECT_RATIO` (default 0.1) of them are rejected.
REJECT_CHECK_MIN_ROWS = 20


def max_reject_ratio() -> float:
    return float(os.environ.get("OPINION_MAX_REJECT_RATIO", "0.1"))


def min_rows_ratio() -> float:
    """A full read (files) holding fewer posts than this share of what the lake holds for the
    source is suspicious: a warning, or a failure when the file is authoritative."""
    return float(os.environ.get("OPINION_MIN_ROWS_RATIO", "0.5"))


def _progress(iterable, total: int | None = None, desc: str = "", unit: str = "it"):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


def load_brands(settings: Settings):
    from opinion.clean.brands import BrandList

    return BrandList.load(settings.brands_file)


# ---------------------------------------------------------------- collect


def to_post(rec: RawRecord, salt: str, keep_handles: Iterable[str], collected_at: datetime):
    """Apply privacy to a source record: the only way a `RawRecord` becomes a `Post`."""
    from opinion.clean.normalize import normalize_text
    from opinion.clean.privacy import hash_author, redact, scrub_payload, strip_author

    keep = set(keep_handles)
    payload = scrub_payload(rec.payload, rec.author, salt, keep)
    post = Post(
        source=rec.source,
        native_id=rec.native_id,
        text=strip_author(redact(normalize_text(rec.text), keep), rec.author, keep),
        created_at=rec.created_at,
        url=rec.url,
        author_hash=hash_author(rec.author, salt),
        brand=rec.brand,
        rating=rec.rating,
        raw=json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True),
    )
    row = post.to_row()
    row["collected_at"] = collected_at
    return row


def _content_hash(rows: list[dict]) -> str:
    digest = hashlib.sha1()
    for row in sorted(rows, key=lambda r: r["post_id"]):
        digest.update(
            json.dumps(
                {k: v for k, v in row.items() if k != "collected_at"}, default=str, sort_keys=True
            ).encode()
        )
    return digest.hexdigest()


def collect_records(
    records: Iterable[RawRecord | Reject],
    settings: Settings,
    source: str,
    run_key: str,
    full_read: bool = False,
    authoritative: bool = False,
) -> CollectReport:
    """Write records into raw partitions (source × day), merged by post_id with what the
    partition already holds; unchanged partitions are not rewritten. Rejects go to the lake
    under `run_key`, so the same input collected twice replaces its rejects file.

    `full_read`: the records are the source's whole content (a file), so their count is
    compared with the posts the lake holds for `source`. `authoritative`: posts of `source`
    that the records no longer hold are retracted (removed from their raw partitions; extract
    and load then drop them from the warehouse). Raises `CollectQualityError`, writing no
    partition, when too many records are rejected or an authoritative read shrank too much."""
    brands = load_brands(settings)
    salt = settings.author_salt()
    now = datetime.now(UTC)
    report = CollectReport(source)
    by_day: dict[str, dict[str, dict]] = {}
    rejects: list[dict] = []
    for item in _progress(records, desc=f"collect {source}", unit="rec"):
        report.read += 1
        if isinstance(item, Reject):
            rejects.append({"record": item.record, "reason": item.reason})
            continue
        try:
            row = to_post(item, salt, brands.handles, now)
        except (ValueError, TypeError) as exc:
            rejects.append(
                {
                    "record": json.dumps(item.payload, default=str)[:10_000],
                    "reason": f"invalid post: {exc}",
                }
            )
            continue
        day = row["created_at"].strftime("%Y-%m-%d")
        bucket = by_day.setdefault(day, {})
        if row["post_id"] in bucket:
            report.duplicates += 1
        bucket[row["post_id"]] = row
    for reject in rejects:
        reason = reject["reason"].split(":")[0]
        report.reasons[reason] = report.reasons.get(reason, 0) + 1
    report.rejected = len(rejects)
    report.posts = sum(len(b) for b in by_day.values())
    write_rejects = lambda: lake.write_rejects(  # noqa: E731
        settings.lake_dir,
        "collect",
        source,
        run_key,
        [{**r, "stage": "collect", "source": source} for r in rejects],
    )
    _check_batch(settings, source, report, full_read, authoritative, write_rejects)
    keep = {pid for bucket in by_day.values() for pid in bucket} if authoritative else None
    days = set(by_day)
    if authoritative:
        days |= {p.day for p in lake.list_partitions(settings.lake_dir, "raw", source=source)}
    for day in sorted(days):
        _merge_raw_partition(settings, source, day, by_day.get(day, {}), report, keep)
    write_rejects()
    if report.retracted:
        log.warning("%s: retracted %d post(s) no longer in the source", source, report.retracted)
    return report


def _check_batch(settings, source, report, full_read, authoritative, write_rejects) -> None:
    """The loud data-quality guards of one batch (see `CollectQualityError`)."""
    limit = max_reject_ratio()
    if report.read >= REJECT_CHECK_MIN_ROWS and report.rejected > limit * report.read:
        write_rejects()  # the reasons stay inspectable in the lake
        by_count = sorted(report.reasons.items(), key=lambda x: -x[1])
        top = ", ".join(f"{reason} ×{n}" for reason, n in by_count)
        raise CollectQualityError(
            f"{source}: {report.rejected} of {report.read} rows rejected "
            f"(reject ratio {report.rejected / report.read:.1%} > limit {limit:.1%}); "
            f"nothing written; reasons: {top}"
        )
    if report.rejected:
        log.warning(
            "%s: %d of %d rows rejected (%.1f%%): %s",
            source, report.rejected, report.read, 100 * report.rejected / report.read,
            report.reasons,
        )  # fmt: skip
    if not full_read:
        return
    held = sum(
        int(lake.read_metadata(p.file("posts")).get(lake.META_ROW_COUNT, 0))
        for p in lake.list_partitions(settings.lake_dir, "raw", source=source)
    )
    ratio = min_rows_ratio()
    if held and report.posts < ratio * held:
        message = (
            f"{source}: the input holds {report.posts} posts, the lake {held} from earlier "
            f"reads (below {ratio:.0%})"
        )
        if authoritative:
            raise CollectQualityError(
                message + "; an authoritative file would retract the rest, nothing written "
                "(set OPINION_MIN_ROWS_RATIO=0 for this run to accept it)"
            )
        log.warning(message)


def _merge_raw_partition(
    settings: Settings,
    source: str,
    day: str,
    fresh: dict[str, dict],
    report: CollectReport,
    keep: set[str] | None = None,
) -> None:
    """Merge `fresh` into the partition; with `keep`, posts whose id is not in it go."""

    path = lake.partition_path(settings.lake_dir, "raw", source, day) / "posts.parquet"
    rows = dict(fresh)
    if path.exists():
        old = {r["post_id"]: r for r in lake.read_table(path).to_pylist()}
        old_hash = _content_hash(list(old.values()))
        if keep is not None:
            kept = {pid: r for pid, r in old.items() if pid in keep}
            report.retracted += len(old) - len(kept)
            old = kept
        for pid, row in old.items():
            if pid in rows and _content_hash([row]) == _content_hash([rows[pid]]):
                rows[pid] = row  # unchanged post keeps its first collected_at
        merged = {**old, **rows}
        if _content_hash(list(merged.values())) == old_hash:
            report.partitions_unchanged += 1
            return
        rows = merged
    elif not rows:
        return
    table = pa.Table.from_pylist(
        sorted(rows.values(), key=lambda r: r["post_id"]), schema=lake.RAW_POSTS_SCHEMA
    )
    lake.write_partition(
        settings.lake_dir,
        "raw",
        source,
        day,
        {"posts": table},
        {"opinion.content_hash": _content_hash(list(rows.values()))},
    )
    report.partitions_written += 1


def collect_file(settings: Settings, cfg) -> CollectReport:
    """Collect a CSV/JSONL/Parquet export (`opinion.sources.files.FileSourceConfig`)."""
    from opinion.sources.files import read_file

    key = "file-" + hashlib.sha1(str(cfg.path.resolve()).encode()).hexdigest()[:12]
    return collect_records(read_file(cfg), settings, cfg.source, key)


# ---------------------------------------------------------------- extract


def _brand_and_target(text: str, source_brand: str | None, brands):
    """The brand a post is about and the span naming it (the post-level sentiment target).

    The text wins over the source's label: the demo CSV labels ~2,200 @JetBlue tweets as
    "Delta", and a CX team wants them counted for JetBlue. The source's label is kept when
    the text names no known brand."""
    found = brands.find(text)
    if found:
        return found[0], (found[1], found[2])
    return source_brand, None


ANALYZE_CHUNK = 512  # posts per engine call: bounded memory, frequent progress updates


def extract_partition(
    partition, engine, brands, settings: Settings, progress=None
) -> tuple[int, int, int, int]:
    """Clean + analyse one raw partition and write its mentions partition."""

    from opinion.clean.dedupe import minhash_bands, text_fingerprint
    from opinion.clean.language import detect_language
    from opinion.clean.spam import spam_signals

    fingerprint = lake.file_fingerprint(partition.file("posts"))
    posts = lake.read_table(partition.file("posts")).to_pylist()
    now = datetime.now(UTC)
    english_idx = []
    targets: dict[int, tuple[int, int] | None] = {}
    for i, row in enumerate(posts):
        text = row["text"] or ""
        row["language"] = detect_language(text)
        row["is_english"] = row["language"] in ("en", "und")
        row["brand"], targets[i] = _brand_and_target(text, row["brand"], brands)
        score, reasons = spam_signals(text)
        row["spam_score"], row["spam_reasons"] = score, ",".join(reasons)
        row["text_hash"] = text_fingerprint(text)
        row["minhash_bands"] = minhash_bands(text)
        row["sentiment"] = row["sentiment_confidence"] = None
        row["model_version"] = engine.version
        row["extracted_at"] = now
        if row["is_english"]:
            english_idx.append(i)
    texts = [posts[i]["text"] for i in english_idx]
    spans = [targets[i] for i in english_idx]
    results = []
    for c in range(0, len(texts), ANALYZE_CHUNK):
        results += engine.analyze(texts[c : c + ANALYZE_CHUNK], spans[c : c + ANALYZE_CHUNK])
        if progress is not None:
            progress(len(texts[c : c + ANALYZE_CHUNK]))
    mentions, errors = [], 0
    from opinion.records import Mention

    for i, res in zip(english_idx, results, strict=True):
        row = posts[i]
        if res.error:
            errors += 1
            continue
        row["sentiment"], row["sentiment_confidence"] = res.sentiment, res.sentiment_confidence
        for a in res.aspects:
            m = Mention(
                row["post_id"],
                a.term,
                a.start,
                a.end,
                a.aspect,
                a.polarity,
                a.confidence,
                engine.version,
            )
            mentions.append(
                {
                    **_asdict(m),
                    "category": None,
                    "touchpoint": None,
                    "cx_domain": None,
                    "taxonomy_version": None,
                }
            )
    mapper = _taxonomy_mapper(settings)
    if mapper is not None:
        mapper(mentions)
    lake.write_partition(
        settings.lake_dir,
        "mentions",
        partition.source,
        partition.day,
        {
            "posts": pa.Table.from_pylist(posts, schema=lake.MENTION_POSTS_SCHEMA),
            "mentions": pa.Table.from_pylist(mentions, schema=lake.MENTIONS_SCHEMA),
        },
        {
            lake.META_MODEL_VERSION: engine.version,
            lake.META_INPUT_FINGERPRINT: fingerprint,
            lake.META_TAXONOMY_VERSION: taxonomy_version(settings) or "",
        },
    )
    return len(posts), len(english_idx), len(mentions), errors


def _asdict(m) -> dict:
    return {f: getattr(m, f) for f in m.__slots__}


def _taxonomy_mapper(settings: Settings):
    """The aspect → category/touchpoint mapper of the taxonomy pack that applies (brand list
    `domain:`, else generic); None when no pack file is found."""
    try:
        from opinion.nlp.taxonomy import mapper_for
    except ImportError:
        return None
    try:
        return mapper_for(settings)
    except FileNotFoundError:
        log.warning("no taxonomy pack found; mentions stay unmapped")
        return None


def taxonomy_version(settings: Settings) -> str | None:
    """Version of the taxonomy pack that applies (None when there is none): a new version
    makes extract redo every partition, like a new model version."""
    try:
        from opinion.nlp.taxonomy import taxonomy_for

        return taxonomy_for(settings).version
    except FileNotFoundError:
        return None


def load_engine(settings: Settings, model: str | None = None):
    """The ABSA engine with the domain's taxonomy attached (seed-term spotting, friction
    terms) when a pack applies; models load once per process."""
    from opinion.nlp.engine import AbsaEngine

    extra_spans = friction = None
    try:
        from opinion.nlp.taxonomy import friction_for, term_spotter_for

        extra_spans, friction = term_spotter_for(settings), friction_for(settings)
    except FileNotFoundError:
        log.warning("no taxonomy pack found; extracting with the tagger alone")
    return AbsaEngine.load(
        model or settings.model, settings.batch_size, extra_spans=extra_spans, friction=friction
    )


def _extract_all(settings: Settings, partitions: list, engine=None) -> ExtractReport:
    """Extract the given raw partitions with one engine (models load once), with progress."""
    import time

    started = time.time()
    engine = engine or load_engine(settings)
    brands = load_brands(settings)
    report = ExtractReport(engine.version)
    total = sum(
        int(lake.read_metadata(p.file("posts")).get(lake.META_ROW_COUNT, 0)) for p in partitions
    )
    bar = _progress(None, total=total, desc="extract", unit="post")
    for part in partitions:
        n, en, m, err = extract_partition(part, engine, brands, settings, bar.update)
        report.partitions += 1
        report.posts += n
        report.english += en
        report.mentions += m
        report.errors += err
    bar.close()
    report.seconds = round(time.time() - started, 1)
    return report


def extract(
    settings: Settings, engine=None, sources: Iterable[str] | None = None, force: bool = False
) -> ExtractReport:
    """Analyse every raw partition that is new, changed, or made by another model version."""
    from opinion.nlp.registry import model_version

    version = engine.version if engine is not None else model_version(settings.model)
    todo = (
        lake.list_partitions(settings.lake_dir, "raw")
        if force
        else lake.stale_raw_partitions(settings.lake_dir, version, taxonomy_version(settings) or "")
    )
    if sources is not None:
        wanted = set(sources)
        todo = [p for p in todo if p.source in wanted]
    if not todo:
        return ExtractReport(version)
    return _extract_all(settings, todo, engine)


# ---------------------------------------------------------------- load


def load(settings: Settings):
    """Merge the lake into the warehouse (single writer) and publish the read snapshot."""
    from opinion.warehouse.load import load_lake

    return load_lake(settings)


# ---------------------------------------------------------------- scheduler-facing helpers
# Small, JSON-friendly entry points for Airflow tasks (they pass names, not objects).


def job_names(settings: Settings) -> list[str]:
    """Names of the enabled collect jobs in the configuration (`opinion.yaml`)."""
    from opinion.sources.config import configured_jobs

    return [job.name for job in configured_jobs(settings)]


def collect_job(settings: Settings, name: str) -> list[dict]:
    """Run one configured collect job; returns one report per source of the job."""
    from opinion.sources.run import run_job

    return run_job(settings, name)


def pending_partitions(settings: Settings) -> list[str]:
    """Raw partitions (as `source/day`) that extract must (re)process for the current model."""
    from opinion.nlp.registry import model_version

    stale = lake.stale_raw_partitions(
        settings.lake_dir, model_version(settings.model), taxonomy_version(settings) or ""
    )
    return [f"{p.source}/{p.day}" for p in stale]


def extract_partitions(settings: Settings, names: Iterable[str], engine=None) -> dict:
    """Extract the given `source/day` raw partitions (one Airflow mapped task each)."""
    raw = {f"{p.source}/{p.day}": p for p in lake.list_partitions(settings.lake_dir, "raw")}
    missing = [n for n in names if n not in raw]
    if missing:
        raise ValueError(f"no raw partition {missing[0]!r} in {settings.lake_dir}")
    return _extract_all(settings, [raw[n] for n in names], engine).__dict__
