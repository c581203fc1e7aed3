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
    records: Iterable[RawRecord | Reject], settings: Settings, source: str, run_key: str
) -> CollectReport:
    """Write records into raw partitions (source × day), merged by post_id with what the
    partition already holds; unchanged partitions are not rewritten. Rejects go to the lake
    under `run_key`, so the same input collected twice replaces its rejects file."""
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
    for day, fresh in sorted(by_day.items()):
        _merge_raw_partition(settings, source, day, fresh, report)
    lake.write_rejects(
        settings.lake_dir,
        "collect",
        source,
        run_key,
        [{**r, "stage": "collect", "source": source} for r in rejects],
    )
    return report


def _merge_raw_partition(
    settings: Settings, source: str, day: str, fresh: dict[str, dict], report: CollectReport
) -> None:
    import pyarrow.parquet as pq

    path = lake.partition_path(settings.lake_dir, "raw", source, day) / "posts.parquet"
    rows = dict(fresh)
    if path.exists():
        old = {r["post_id"]: r for r in pq.read_table(path).to_pylist()}
        old_hash = _content_hash(list(old.values()))
        for pid, row in old.items():
            if pid in rows and _content_hash([row]) == _content_hash([rows[pid]]):
                rows[pid] = row  # unchanged post keeps its first collected_at
        merged = {**old, **rows}
        if _content_hash(list(merged.values())) == old_hash:
            report.partitions_unchanged += 1
            return
        rows = merged
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
    import pyarrow.parquet as pq

    from opinion.clean.dedupe import minhash_bands, text_fingerprint
    from opinion.clean.language import detect_language
    from opinion.clean.spam import spam_signals

    fingerprint = lake.file_fingerprint(partition.file("posts"))
    posts = pq.read_table(partition.file("posts")).to_pylist()
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
                    "implicit": False,
                }
            )
    mapper = _taxonomy_mapper(settings)
    if mapper is not None:
        mapper(mentions)
        implicit = _implicit_mentions(posts, english_idx, results, mentions, engine.version)
        mapper(implicit)
        mentions += implicit
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


def _implicit_mentions(posts, english_idx, results, mapped, version) -> list[dict]:
    """Implicit mentions (category head) for opinionated posts that name no category."""
    from opinion.nlp.categories import implicit_mentions

    pairs = [(posts[i]["post_id"], res) for i, res in zip(english_idx, results, strict=True)]
    return implicit_mentions(pairs, mapped, version)


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
    return engine


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


# ---------------------------------------------------------------- taxonomy head


def fit_taxonomy(
    settings: Settings, pack: str | None = None, echo=None, limit: int | None = None
) -> dict:
    """Fit the implicit-category head of a pack (default: the brand list's domain) on the
    lake's raw posts (the first `limit` by post_id, when given), weakly labelled by the pack
    itself (`opinion.nlp.categories`), and store it beside the pack: the pack's version
    changes, so the next `extract` redoes every partition with it."""
    import pyarrow.parquet as pq

    from opinion.nlp.categories import FitConfig, fit_head, head_path
    from opinion.nlp.taxonomy import mapper_for, pack_path, taxonomy_for

    path = pack_path(settings, pack)
    if pack and path.stem != pack:
        raise ValueError(f"no taxonomy pack {pack!r} in {path.parent}")
    taxonomy = taxonomy_for(settings, path.stem)
    by_id: dict[str, str] = {}
    for part in lake.list_partitions(settings.lake_dir, "raw"):
        table = pq.read_table(part.file("posts"), columns=["post_id", "text"])
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
