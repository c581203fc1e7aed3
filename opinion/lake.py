"""The Parquet lake: immutable-by-replacement partitions that every stage reads and writes.

Layout under `Settings.lake_dir` (one partition per kind x source x UTC day, or x UTC month
`month=YYYY-MM` for a month that a source fills thinly: `period_keys`)::

    raw/source={source}/day={YYYY-MM-DD}/posts.parquet        written by collect
    mentions/source={source}/day={YYYY-MM-DD}/posts.parquet   written by extract (raw columns
    mentions/source={source}/day={YYYY-MM-DD}/mentions.parquet   + NLP columns), one row per
                                                                 post / per aspect mention
    rejects/stage={stage}/source={source}/{key}.parquet       rows a stage refused, with why

Rules every writer follows (and the helpers below enforce):

* A write replaces the whole partition (or rejects file): files are written as `*.tmp` in the
  same directory, fsynced, then `os.replace`d, so a reader sees the old file or the new one,
  never half a file. Re-running a stage therefore replaces its output instead of appending.
* Every Parquet file carries key/value metadata: `opinion.row_count`, `opinion.write_id` (the
  same for all files of one `write_partition` call, so a reader can tell it did not catch a
  partition between two file swaps), `opinion.input_fingerprint` (fingerprint of the input the
  partition was derived from; extract stores `file_fingerprint(raw posts.parquet)` so a changed
  raw partition is seen as stale) and, on mentions partitions, `opinion.model_version`.
* Column sets are fixed by the `*_SCHEMA` constants below; `write_partition` casts to them and
  refuses a table that lacks a column. Extra columns are kept (appended after the known ones).

See docs/warehouse.md for column meanings and how the warehouse loads these files.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from opinion import storage

KINDS = ("raw", "mentions")
REJECT_RECORD_MAX_BYTES = 10 * 1024

META_MODEL_VERSION = "opinion.model_version"
META_TAXONOMY_VERSION = "opinion.taxonomy_version"
META_INPUT_FINGERPRINT = "opinion.input_fingerprint"
META_ROW_COUNT = "opinion.row_count"
META_WRITE_ID = "opinion.write_id"

_TS = pa.timestamp("us", tz="UTC")

RAW_POSTS_SCHEMA = pa.schema(
    [
        ("post_id", pa.string()),
        ("source", pa.string()),
        ("native_id", pa.string()),
        ("url", pa.string()),
        ("author_hash", pa.string()),
        ("brand", pa.string()),
        ("created_at", _TS),
        ("text", pa.string()),
        ("rating", pa.int8()),
        ("language", pa.string()),
        ("raw", pa.string()),
        ("collected_at", _TS),
        ("title", pa.string()),
        ("recommended", pa.bool_()),
        ("rating_value", pa.float64()),
        ("rating_scale", pa.string()),
        ("rating_norm", pa.float64()),
    ]
)

MENTION_POSTS_SCHEMA = pa.schema(
    list(RAW_POSTS_SCHEMA)
    + [
        ("is_english", pa.bool_()),
        ("text_hash", pa.string()),
        ("minhash_bands", pa.list_(pa.string())),
        ("spam_score", pa.float32()),
        ("spam_reasons", pa.string()),
        ("sentiment", pa.string()),
        ("sentiment_confidence", pa.float32()),
        ("model_version", pa.string()),
        ("extracted_at", _TS),
    ]
)

MENTIONS_SCHEMA = pa.schema(
    [
        ("mention_id", pa.string()),
        ("post_id", pa.string()),
        ("term", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("aspect", pa.string()),
        ("polarity", pa.string()),
        ("confidence", pa.float32()),
        ("model_version", pa.string()),
        ("category", pa.string()),
        ("touchpoint", pa.string()),
        ("cx_domain", pa.string()),
        ("taxonomy_version", pa.string()),
        ("in_title", pa.bool_()),
        ("implicit", pa.bool_()),  # category head, no span (opinion.nlp.categories)
    ]
)

#: Columns added after lakes already existed (reviews): a file written before them reads as
#: all-null in these columns instead of failing `conform`.
OPTIONAL_COLUMNS = frozenset(
    {"title", "recommended", "rating_value", "rating_scale", "rating_norm", "in_title"}
)

REJECTS_SCHEMA = pa.schema(
    [
        ("record", pa.string()),
        ("stage", pa.string()),
        ("source", pa.string()),
        ("reason", pa.string()),
        ("rejected_at", _TS),
    ]
)

#: Which files a partition of each kind holds, and their schemas.
PARTITION_TABLES: dict[str, dict[str, pa.Schema]] = {
    "raw": {"posts": RAW_POSTS_SCHEMA},
    "mentions": {"posts": MENTION_POSTS_SCHEMA, "mentions": MENTIONS_SCHEMA},
}

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")

#: Partition grain (docs/warehouse.md, "Partition grain"): a (source, month) that a collect run
#: fills thinly (at least SPARSE_MIN_DAYS distinct days, fewer than SPARSE_POSTS_PER_DAY posts
#: per day on average) is stored as ONE `month=YYYY-MM` partition instead of one per day, so a
#: sparse source (reviews over 14 years) does not pay a fixed cost per day in every stage.
SPARSE_MIN_DAYS = 2
SPARSE_POSTS_PER_DAY = 20


@dataclass(frozen=True, order=True)
class Partition:
    """One lake partition: a directory holding the kind's Parquet files."""

    kind: str
    source: str
    day: str  # the period key: a UTC day YYYY-MM-DD, or a month YYYY-MM (sparse sources)
    path: Path

    @property
    def grain(self) -> str:
        """`day` or `month`."""
        return "month" if _MONTH.match(self.day) else "day"

    def file(self, name: str) -> Path:
        """Path of one table of the partition, e.g. `part.file("posts")`."""
        return self.path / f"{name}.parquet"

    @property
    def relpath(self) -> str:
        """Location relative to the lake root, e.g. `mentions/source=x/day=2015-02-01` (or
        `.../month=2015-02` for a month partition)."""
        return f"{self.kind}/source={self.source}/{self.grain}={self.day}"


@dataclass(frozen=True, order=True)
class RejectFile:
    """One rejects file: `rejects/stage={stage}/source={source}/{key}.parquet`."""

    stage: str
    source: str
    key: str
    path: Path

    @property
    def relpath(self) -> str:
        return f"rejects/stage={self.stage}/source={self.source}/{self.key}.parquet"


def _check_name(what: str, value: str) -> str:
    value = str(value)
    if not _SAFE.match(value) or ".." in value:
        raise ValueError(f"{what} must be a safe path component ([A-Za-z0-9_.-]), got {value!r}")
    return value


def _check_day(day: str | date) -> str:
    """A partition key: a day YYYY-MM-DD or a month YYYY-MM (validated)."""
    text = day.isoformat() if isinstance(day, date) else str(day)
    if _MONTH.match(text):
        date.fromisoformat(text + "-01")  # raises on 2015-13
        return text
    if not _DAY.match(text):
        raise ValueError(f"day must be YYYY-MM-DD (or a month YYYY-MM), got {day!r}")
    date.fromisoformat(text)  # raises on 2015-02-30
    return text


def period_keys(lake_dir: Path, source: str, posts_per_day: Mapping[str, int]) -> dict[str, str]:
    """The partition key for each UTC day of a collect run's posts ({day: n_posts}).

    Sticky first: a month that already has a `month=` raw partition stays a month, one that
    has `day=` partitions stays daily (so re-running a stage never moves posts). A month new to
    the lake is stored as a month partition when this run fills it thinly (>= SPARSE_MIN_DAYS
    distinct days, < SPARSE_POSTS_PER_DAY posts per day on average), else by day.
    """
    by_month: dict[str, list[str]] = {}
    for day in posts_per_day:
        by_month.setdefault(_check_day(day)[:7], []).append(day)
    src_dir = storage.as_path(lake_dir) / "raw" / f"source={_check_name('source', source)}"
    keys: dict[str, str] = {}
    for month, days in by_month.items():
        if (src_dir / f"month={month}").is_dir():
            monthly = True
        elif src_dir.is_dir() and any(src_dir.glob(f"day={month}-*")):
            monthly = False
        else:
            posts = sum(posts_per_day[d] for d in days)
            monthly = len(days) >= SPARSE_MIN_DAYS and posts < SPARSE_POSTS_PER_DAY * len(days)
        for day in days:
            keys[day] = month if monthly else day
    return keys


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def partition_path(lake_dir: Path, kind: str, source: str, day: str | date) -> Path:
    """Directory of the partition `kind/source=../day=..` (`month=..` for a month key; not
    created)."""
    key = _check_day(day)
    grain = "month" if _MONTH.match(key) else "day"
    return (
        storage.as_path(lake_dir)
        / _check_kind(kind)
        / f"source={_check_name('source', source)}"
        / f"{grain}={key}"
    )


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder and cast `table` to `schema`; extra columns are kept after the known ones."""
    for f in schema:
        if f.name in OPTIONAL_COLUMNS and f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise ValueError(f"table lacks columns {missing}")
    extra = [n for n in table.column_names if n not in schema.names]
    target = pa.schema(list(schema) + [table.schema.field(n) for n in extra])
    return table.select(target.names).cast(target)


def _fsync_dir(directory: Path) -> None:
    storage.fsync_dir(directory)


def _write_tmp(table: pa.Table, path: Path, metadata: Mapping[str, str]) -> Path:
    meta = dict(table.schema.metadata or {})
    meta.update({k.encode(): str(v).encode() for k, v in metadata.items()})
    meta[META_ROW_COUNT.encode()] = str(table.num_rows).encode()
    table = table.replace_schema_metadata(meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as fh:
            pq.write_table(table, fh, compression="zstd")
            storage.fsync_file(fh, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_partition(
    lake_dir: Path,
    kind: str,
    source: str,
    day: str | date,
    tables: Mapping[str, pa.Table],
    metadata: Mapping[str, str] | None = None,
) -> Partition:
    """Atomically replace partition `kind/source/day` with `tables` ({"posts": .., ...}).

    `raw` takes {"posts"}; `mentions` takes {"posts", "mentions"} (both required, so the
    loader never sees one without the other). Each table is cast to its `*_SCHEMA`; `metadata`
    (e.g. `opinion.input_fingerprint`, `opinion.model_version`) is stored on every file,
    together with `opinion.row_count` and a shared `opinion.write_id`. Files of the partition
    that are not in `tables` are removed.
    """
    expected = PARTITION_TABLES[_check_kind(kind)]
    if set(tables) != set(expected):
        raise ValueError(
            f"a {kind} partition needs tables {sorted(expected)}, got {sorted(tables)}"
        )
    directory = partition_path(lake_dir, kind, source, day)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[META_WRITE_ID] = uuid.uuid4().hex
    tmps: dict[str, Path] = {}
    try:
        for name, schema in expected.items():
            tmps[name] = _write_tmp(
                conform(tables[name], schema), directory / f"{name}.parquet", meta
            )
    except BaseException:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
        raise
    # posts last: a reader that checks write_id equality can detect a half-swapped partition
    for name in sorted(tmps, key=lambda n: n == "posts"):
        storage.replace(tmps[name], directory / f"{name}.parquet")
    for stale in directory.glob("*.parquet"):
        if stale.stem not in expected:
            stale.unlink(missing_ok=True)
    _fsync_dir(directory)
    return Partition(kind, str(source), _check_day(day), directory)


def _record_text(record: object) -> str:
    if isinstance(record, bytes):
        text = record.decode("utf-8", errors="replace")
    elif isinstance(record, str):
        text = record
    else:
        text = json.dumps(record, default=str, ensure_ascii=False, sort_keys=True)
    data = text.encode("utf-8")
    if len(data) > REJECT_RECORD_MAX_BYTES:
        text = data[:REJECT_RECORD_MAX_BYTES].decode("utf-8", errors="ignore")
    return text


def reject_path(lake_dir: Path, stage: str, source: str, key: str) -> Path:
    return (
        storage.as_path(lake_dir)
        / "rejects"
        / f"stage={_check_name('stage', stage)}"
        / f"source={_check_name('source', source)}"
        / f"{_check_name('key', key)}.parquet"
    )


def write_rejects(
    lake_dir: Path, stage: str, source: str, key: str, rows: Iterable[Mapping[str, object]]
) -> Path | None:
    """Replace `rejects/stage=/source=/{key}.parquet` with `rows`; returns its path.

    Each row needs `record` (str, or any JSON-able value, stored as text truncated to 10 kB)
    and `reason`; `rejected_at` defaults to now (UTC). `stage`/`source` come from the
    arguments. An empty `rows` removes an older file with that key and returns None.
    """
    path = reject_path(lake_dir, stage, source, key)
    rows = list(rows)
    if not rows:
        if path.exists():
            path.unlink()
            _fsync_dir(path.parent)
        return None
    now = datetime.now(UTC)
    columns: dict[str, list] = {name: [] for name in REJECTS_SCHEMA.names}
    for row in rows:
        columns["record"].append(_record_text(row.get("record")))
        columns["stage"].append(stage)
        columns["source"].append(source)
        columns["reason"].append(None if row.get("reason") is None else str(row["reason"]))
        at = row.get("rejected_at") or now
        if isinstance(at, datetime) and at.tzinfo is None:
            raise ValueError(f"rejected_at must carry a time zone: {at!r}")
        columns["rejected_at"].append(at)
    table = pa.table(columns, schema=REJECTS_SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_tmp(table, path, {})
    storage.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def _kv_dirs(parent: Path, key: str) -> list[tuple[str, Path]]:
    if not parent.is_dir():
        return []
    out = []
    prefix = f"{key}="
    for child in parent.iterdir():
        if child.is_dir() and child.name.startswith(prefix):
            out.append((child.name[len(prefix) :], child))
    return sorted(out)


def list_partitions(
    lake_dir: Path,
    kind: str,
    source: str | None = None,
    days: Iterable[str | date] | None = None,
) -> list[Partition]:
    """Partitions of `kind` that hold all their files, sorted by (source, day)."""
    _check_kind(kind)
    wanted_days = None if days is None else {_check_day(d) for d in days}
    names = PARTITION_TABLES[kind]
    out = []
    for src, src_dir in _kv_dirs(storage.as_path(lake_dir) / kind, "source"):
        if source is not None and src != source:
            continue
        for day, day_dir in sorted(_kv_dirs(src_dir, "day") + _kv_dirs(src_dir, "month")):
            if wanted_days is not None and day not in wanted_days:
                continue
            if all((day_dir / f"{n}.parquet").is_file() for n in names):
                out.append(Partition(kind, src, day, day_dir))
    return sorted(out)


def list_rejects(
    lake_dir: Path, stage: str | None = None, source: str | None = None
) -> list[RejectFile]:
    """Rejects files, sorted by (stage, source, key)."""
    out = []
    for stg, stage_dir in _kv_dirs(storage.as_path(lake_dir) / "rejects", "stage"):
        if stage is not None and stg != stage:
            continue
        for src, src_dir in _kv_dirs(stage_dir, "source"):
            if source is not None and src != source:
                continue
            for f in src_dir.glob("*.parquet"):
                if f.is_file() and not f.name.startswith("."):
                    out.append(RejectFile(stg, src, f.stem, f))
    return sorted(out)


def read_metadata(path: Path) -> dict[str, str]:
    """The key/value metadata of a Parquet file (without Arrow's own schema blob)."""
    if storage.is_remote(path):
        with path.open("rb") as fh:
            meta = pq.read_schema(fh).metadata or {}
    else:
        meta = pq.read_schema(path).metadata or {}
    return {
        k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
        for k, v in meta.items()
        if k != b"ARROW:schema"
    }


def file_fingerprint(path: Path) -> str:
    """Cheap change detector for a file: `{size}:{mtime_ns}` (atomic replace changes it); on
    object storage `{size}:{write_id}` (`opinion.storage.fingerprint`)."""
    if storage.is_remote(path):
        return storage.fingerprint(path, read_metadata(path).get(META_WRITE_ID))
    return storage.fingerprint(path)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file of the lake (or some of its columns), local or on object storage."""
    if storage.is_remote(path):
        with path.open("rb") as fh:
            return pq.read_table(fh, columns=columns)
    return pq.read_table(path, columns=columns)


def partition_fingerprint(partition: Partition) -> str:
    """Fingerprint of all files of a partition, in table-name order."""
    names = sorted(PARTITION_TABLES[partition.kind])
    return "|".join(f"{n}={file_fingerprint(partition.file(n))}" for n in names)


def stale_raw_partitions(
    lake_dir: Path, model_version: str, taxonomy_version: str | None = None
) -> list[Partition]:
    """Raw partitions whose mentions partition is missing, was made by another model_version
    (or, when given, another taxonomy version), or was derived from another version of the raw
    file (input fingerprint differs)."""
    stale = []
    for raw in list_partitions(lake_dir, "raw"):
        target = partition_path(lake_dir, "mentions", raw.source, raw.day)
        posts, mentions = target / "posts.parquet", target / "mentions.parquet"
        if not (posts.is_file() and mentions.is_file()):
            stale.append(raw)
            continue
        try:
            expected = file_fingerprint(raw.file("posts"))
            m_meta, p_meta = read_metadata(mentions), read_metadata(posts)
        except (OSError, pa.ArrowInvalid):
            stale.append(raw)
            continue
        if (
            m_meta.get(META_MODEL_VERSION) != model_version
            or (
                taxonomy_version is not None
                and m_meta.get(META_TAXONOMY_VERSION) != taxonomy_version
            )
            or m_meta.get(META_INPUT_FINGERPRINT) != expected
            or p_meta.get(META_INPUT_FINGERPRINT) != expected
            or m_meta.get(META_WRITE_ID) != p_meta.get(META_WRITE_ID)
        ):
            stale.append(raw)
    return stale
