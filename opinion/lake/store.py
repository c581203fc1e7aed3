"""The Lake: one root on one filesystem, and every read, write, listing, fingerprint and lock
of the lake's files.

A lake is a local folder or an `s3://bucket/prefix`. Which one is decided once, when the
`Lake` is built (`Lake.of`), and the few things that differ are kept here:

* the atomic replace: `os.replace` locally; on S3 a single-object PUT of the destination,
  which readers see whole or not at all;
* fsync of files and directories (object stores have neither);
* the change fingerprint: `{size}:{mtime_ns}` locally; mtime has a one-second grain on S3, so
  remote files are fingerprinted by size and the `opinion.write_id` of their Parquet footer;
* the collect lock of a source: a lock file in the lake folder, or one per host for S3.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from opinion.lake import storage
from opinion.lake.schemas import (
    KINDS,
    META_INPUT_FINGERPRINT,
    META_MODEL_VERSION,
    META_ROW_COUNT,
    META_TAXONOMY_VERSION,
    META_WRITE_ID,
    MONTH,
    PARTITION_TABLES,
    REJECT_RECORD_MAX_BYTES,
    REJECTS_SCHEMA,
    SPARSE_MIN_DAYS,
    SPARSE_POSTS_PER_DAY,
    check_day,
    check_kind,
    check_name,
    conform,
)

__all__ = ["KINDS", "Lake", "Partition", "RejectFile"]


class Lake:
    """The lake at `root` (a folder, or an `s3://bucket/prefix` URL or path). Build it once
    and pass it on (`Settings.lake` does): local vs object storage is decided here."""

    def __init__(self, root: Any) -> None:
        self.remote = storage.is_remote(root)
        if isinstance(root, str):
            root = storage.lake_path(root)
        elif not self.remote:
            root = Path(root)
        self.root = root
        self.fs = root.fs if self.remote else fsspec.filesystem("file")

    @classmethod
    def of(cls, root: Any) -> Lake:
        """`root` itself when it is a `Lake`, else the Lake at that folder or `s3://` URL."""
        return root if isinstance(root, Lake) else cls(root)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    def __str__(self) -> str:
        return str(self.root)

    # ------------------------------------------------------------ what differs: local vs S3

    def replace(self, src: Any, dst: Any) -> None:
        """Move a finished temp file over its destination, atomically for readers."""
        if self.remote:
            src.rename(dst)
        else:
            os.replace(src, dst)

    def fsync_file(self, fh: Any) -> None:
        if not self.remote:
            fh.flush()
            os.fsync(fh.fileno())

    def fsync_dir(self, directory: Any) -> None:
        """Make a rename durable on a local disk (object stores have no directories)."""
        if self.remote:
            return
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:  # pragma: no cover - platforms without directory fds
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def file_fingerprint(self, path: Any) -> str:
        """Cheap change detector for a file: `{size}:{mtime_ns}` (atomic replace changes it);
        on object storage `{size}:{write_id}`."""
        if not self.remote:
            st = os.stat(path)
            return f"{st.st_size}:{st.st_mtime_ns}"
        return f"{path.stat().st_size}:{self.read_metadata(path).get(META_WRITE_ID) or ''}"

    def read_table(self, path: Any, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file of the lake (or some of its columns)."""
        if self.remote:
            with path.open("rb") as fh:
                return pq.read_table(fh, columns=columns)
        return pq.read_table(path, columns=columns)

    def read_consistent(self, paths: Mapping[str, Any]) -> tuple[str, dict[str, pa.Table]]:
        """Read files through open handles: (fingerprint of exactly those files, tables), so
        a file replaced between the read and the fingerprint cannot be taken for loaded."""
        tables, prints = {}, []
        for name in sorted(paths):
            with paths[name].open("rb") as fh:
                if self.remote:  # object storage: no fstat
                    tables[name] = pq.read_table(fh)
                    wid = (tables[name].schema.metadata or {}).get(META_WRITE_ID.encode(), b"")
                    size = paths[name].stat().st_size
                    prints.append(f"{name}={size}:{wid.decode()}")
                    continue
                st = os.fstat(fh.fileno())
                prints.append(f"{name}={st.st_size}:{st.st_mtime_ns}")
                # ParquetFile.read: no dataset machinery, no thread pool (partitions are small
                # and there are many of them; a pool per file costs more than it saves on 2 cores)
                tables[name] = pq.ParquetFile(fh).read(use_threads=False)
        return "|".join(prints), tables

    def read_metadata(self, path: Any) -> dict[str, str]:
        """The key/value metadata of a Parquet file (without Arrow's own schema blob)."""
        if self.remote:
            with path.open("rb") as fh:
                meta = pq.read_schema(fh).metadata or {}
        else:
            meta = pq.read_schema(path).metadata or {}
        return {
            k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
            for k, v in meta.items()
            if k != b"ARROW:schema"
        }

    def source_lock(self, source: str, timeout: float | None = None):
        """The lock of one source's raw partitions (held by collect while it merges)."""
        from opinion.locks import held

        safe = re.sub(r"[^A-Za-z0-9_.\-]", "-", source)[:100] or "source"
        if self.remote:
            # object storage has no file locks: collects of one source on one machine still
            # exclude each other here; across workers nothing does (no Airflow pool either):
            # opinion_collect runs each job once per run with max_active_runs=1, so keep each
            # source name in one job (docs/airflow.md, "Multi-worker deployment")
            lake_key = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
            path = Path(tempfile.gettempdir()) / "opinion-locks" / lake_key / f"collect-{safe}.lock"
        else:
            path = Path(self.root) / ".locks" / f"collect-{safe}.lock"
        return held(path, f"a collect of {source!r}", timeout)

    # ------------------------------------------------------------ small files (cursors)

    def path(self, *parts: str) -> Any:
        """A path under the root (`lake.path("state", "source=x")`)."""
        out = self.root
        for part in parts:
            out = out / part
        return out

    def write_text(self, path: Any, text: str) -> None:
        """Atomically replace a small text file of the lake (a cursor)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write(text)
                self.fsync_file(fh)
            self.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.fsync_dir(path.parent)

    def check_salt(self, salt: str, new: bool = False) -> str | None:
        """Compare the author salt with the fingerprint stored beside the lake
        (`state/salt.json`, a short HMAC of a constant: it does not reveal the salt). The first
        collect records it; a different salt raises ValueError (one line) unless `new`, which
        records the new fingerprint. Returns a note when something was recorded, else None.
        Why: a lost or changed salt silently gives every known author a second hash."""
        import hmac

        path = self.path("state", "salt.json")
        mark = hmac.new(salt.encode(), b"opinion author salt v1", hashlib.sha256).hexdigest()[:16]
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
        except FileNotFoundError:
            old = None
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"{path} is unreadable ({type(exc).__name__}); move it aside"
            ) from None
        if old == mark:
            return None
        if old and not new:
            raise ValueError(
                f"the author salt is not the one this lake's authors were hashed with "
                f"(fingerprint {mark}, lake {old}): restore OPINION_AUTHOR_SALT or the salt "
                f"file, or run `opinion collect --new-salt` to start new author hashes"
            )
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        self.write_text(path, json.dumps({"fingerprint": mark, "recorded_at": stamp}) + "\n")
        if old:
            return (
                f"new author salt recorded (fingerprint {mark}, was {old}): authors "
                "collected before hash differently"
            )
        return f"author salt fingerprint {mark} recorded"

    # ------------------------------------------------------------ partitions

    def partition_path(self, kind: str, source: str, day: str | date) -> Any:
        """Directory of the partition `kind/source=../day=..` (`month=..` for a month key;
        not created)."""
        key = check_day(day)
        grain = "month" if MONTH.match(key) else "day"
        source_dir = f"source={check_name('source', source)}"
        return self.root / check_kind(kind) / source_dir / f"{grain}={key}"

    def _write_tmp(self, table: pa.Table, path: Any, metadata: Mapping[str, str]) -> Any:
        meta = dict(table.schema.metadata or {})
        meta.update({k.encode(): str(v).encode() for k, v in metadata.items()})
        meta[META_ROW_COUNT.encode()] = str(table.num_rows).encode()
        table = table.replace_schema_metadata(meta)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with tmp.open("wb") as fh:
                pq.write_table(table, fh, compression="zstd")
                self.fsync_file(fh)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def write_partition(
        self,
        kind: str,
        source: str,
        day: str | date,
        tables: Mapping[str, pa.Table],
        metadata: Mapping[str, str] | None = None,
    ) -> Partition:
        """Atomically replace partition `kind/source/day` with `tables` ({"posts": .., ...}).

        `raw` takes {"posts"}; `mentions` takes {"posts", "mentions"} (both required, so the
        loader never sees one without the other). Each table is cast to its `*_SCHEMA`;
        `metadata` (e.g. `opinion.input_fingerprint`, `opinion.model_version`) is stored on
        every file, together with `opinion.row_count` and a shared `opinion.write_id`. Files of
        the partition that are not in `tables` are removed.
        """
        expected = PARTITION_TABLES[check_kind(kind)]
        if set(tables) != set(expected):
            raise ValueError(
                f"a {kind} partition needs tables {sorted(expected)}, got {sorted(tables)}"
            )
        directory = self.partition_path(kind, source, day)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {str(k): str(v) for k, v in (metadata or {}).items()}
        meta[META_WRITE_ID] = uuid.uuid4().hex
        tmps: dict[str, Any] = {}
        try:
            for name, schema in expected.items():
                tmps[name] = self._write_tmp(
                    conform(tables[name], schema), directory / f"{name}.parquet", meta
                )
        except BaseException:
            for tmp in tmps.values():
                tmp.unlink(missing_ok=True)
            raise
        # posts last: a reader that checks write_id equality can detect a half-swapped partition
        for name in sorted(tmps, key=lambda n: n == "posts"):
            self.replace(tmps[name], directory / f"{name}.parquet")
        for stale in directory.glob("*.parquet"):
            if stale.stem not in expected:
                stale.unlink(missing_ok=True)
        self.fsync_dir(directory)
        return Partition(kind, str(source), check_day(day), directory, self)

    def list_partitions(
        self,
        kind: str,
        source: str | None = None,
        days: Iterable[str | date] | None = None,
    ) -> list[Partition]:
        """Partitions of `kind` that hold all their files, sorted by (source, day)."""
        check_kind(kind)
        wanted_days = None if days is None else {check_day(d) for d in days}
        names = PARTITION_TABLES[kind]
        out = []
        for src, src_dir in _kv_dirs(self.root / kind, "source"):
            if source is not None and src != source:
                continue
            for day, day_dir in sorted(_kv_dirs(src_dir, "day") + _kv_dirs(src_dir, "month")):
                if wanted_days is not None and day not in wanted_days:
                    continue
                if all((day_dir / f"{n}.parquet").is_file() for n in names):
                    out.append(Partition(kind, src, day, day_dir, self))
        return sorted(out)

    def unreadable_partitions(self, kind: str, source: str) -> list[Partition]:
        """Partitions of `source` with a table file that cannot be read in full (truncated,
        not Parquet, a damaged page). Why: such a partition's posts are missing downstream
        until collect rewrites it, so collect looks for them before trusting its cursor."""
        bad = []
        for part in self.list_partitions(kind, source=source):
            for name in sorted(PARTITION_TABLES[kind]):
                try:
                    with part.file(name).open("rb") as fh:
                        pq.ParquetFile(fh).read(use_threads=False)
                except (OSError, ValueError, pa.ArrowException):
                    bad.append(part)
                    break
        return bad

    def period_keys(self, source: str, posts_per_day: Mapping[str, int]) -> dict[str, str]:
        """The partition key for each UTC day of a collect run's posts ({day: n_posts}).

        Sticky first: a month that already has a `month=` raw partition stays a month, one that
        has `day=` partitions stays daily (so re-running a stage never moves posts). A month
        new to the lake is stored as a month partition when this run fills it thinly
        (>= SPARSE_MIN_DAYS distinct days, < SPARSE_POSTS_PER_DAY posts per day on average),
        else by day.
        """
        by_month: dict[str, list[str]] = {}
        for day in posts_per_day:
            by_month.setdefault(check_day(day)[:7], []).append(day)
        src_dir = self.root / "raw" / f"source={check_name('source', source)}"
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

    def stale_raw_partitions(
        self, model_version: str, taxonomy_version: str | None = None
    ) -> list[Partition]:
        """Raw partitions whose mentions partition is missing, was made by another
        model_version (or, when given, another taxonomy version), or was derived from another
        version of the raw file (input fingerprint differs)."""
        stale = []
        for raw in self.list_partitions("raw"):
            target = self.partition_path("mentions", raw.source, raw.day)
            posts, mentions = target / "posts.parquet", target / "mentions.parquet"
            if not (posts.is_file() and mentions.is_file()):
                stale.append(raw)
                continue
            try:
                expected = raw.fingerprint("posts")
                m_meta, p_meta = self.read_metadata(mentions), self.read_metadata(posts)
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

    # ------------------------------------------------------------ rejects

    def reject_path(self, stage: str, source: str, key: str) -> Any:
        return (
            self.root
            / "rejects"
            / f"stage={check_name('stage', stage)}"
            / f"source={check_name('source', source)}"
            / f"{check_name('key', key)}.parquet"
        )

    def write_rejects(
        self, stage: str, source: str, key: str, rows: Iterable[Mapping[str, object]]
    ) -> Any | None:
        """Replace `rejects/stage=/source=/{key}.parquet` with `rows`; returns its path.

        Each row needs `record` (str, or any JSON-able value, stored as text truncated to
        10 kB) and `reason`; `rejected_at` defaults to now (UTC). `stage`/`source` come from the
        arguments. An empty `rows` removes an older file with that key and returns None.
        """
        path = self.reject_path(stage, source, key)
        rows = list(rows)
        if not rows:
            if path.exists():
                path.unlink()
                self.fsync_dir(path.parent)
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
        tmp = self._write_tmp(table, path, {})
        self.replace(tmp, path)
        self.fsync_dir(path.parent)
        return path

    def list_rejects(self, stage: str | None = None, source: str | None = None) -> list[RejectFile]:
        """Rejects files, sorted by (stage, source, key)."""
        out = []
        for stg, stage_dir in _kv_dirs(self.root / "rejects", "stage"):
            if stage is not None and stg != stage:
                continue
            for src, src_dir in _kv_dirs(stage_dir, "source"):
                if source is not None and src != source:
                    continue
                for f in src_dir.glob("*.parquet"):
                    if f.is_file() and not f.name.startswith("."):
                        out.append(RejectFile(stg, src, f.stem, f, self))
        return sorted(out)


def _kv_dirs(parent: Any, key: str) -> list[tuple[str, Any]]:
    if not parent.is_dir():
        return []
    out = []
    prefix = f"{key}="
    for child in parent.iterdir():
        if child.is_dir() and child.name.startswith(prefix):
            out.append((child.name[len(prefix) :], child))
    return sorted(out)


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


@dataclass(frozen=True, order=True)
class Partition:
    """One lake partition: a directory holding the kind's Parquet files."""

    kind: str
    source: str
    day: str  # the period key: a UTC day YYYY-MM-DD, or a month YYYY-MM (sparse sources)
    path: Any
    lake: Lake = field(compare=False, repr=False)

    @property
    def grain(self) -> str:
        """`day` or `month`."""
        return "month" if MONTH.match(self.day) else "day"

    def file(self, name: str) -> Any:
        """Path of one table of the partition, e.g. `part.file("posts")`."""
        return self.path / f"{name}.parquet"

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """One table of the partition (or some of its columns)."""
        return self.lake.read_table(self.file(name), columns)

    def metadata(self, name: str) -> dict[str, str]:
        """The key/value metadata of one table's file."""
        return self.lake.read_metadata(self.file(name))

    def fingerprint(self, name: str | None = None) -> str:
        """Change fingerprint of one table's file, or of all of them (table-name order)."""
        if name is not None:
            return self.lake.file_fingerprint(self.file(name))
        names = sorted(PARTITION_TABLES[self.kind])
        return "|".join(f"{n}={self.lake.file_fingerprint(self.file(n))}" for n in names)

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
    path: Any
    lake: Lake = field(compare=False, repr=False)

    @property
    def relpath(self) -> str:
        return f"rejects/stage={self.stage}/source={self.source}/{self.key}.parquet"

    def read(self) -> pa.Table:
        return self.lake.read_table(self.path)
