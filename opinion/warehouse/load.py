"""Load the lake into the writer warehouse, then check and publish it.

`load_lake(settings)` opens `settings.writer_warehouse` read-write (the single writer) and:

1. for every `mentions/source=/day=` partition whose files changed since they were last loaded
   (`loaded_partitions.fingerprint`), in ONE transaction: upsert its posts on `post_id`, delete
   posts this partition loaded before that are gone from it, replace the mentions of its posts,
   record a `runs` row and the new fingerprint. A kill mid-transaction leaves nothing behind:
   DuckDB rolls the transaction back when the file is reopened;
2. the same for every `rejects/` file (upsert on `reject_id`, drop rows the file no longer
   holds); rows of rejects files that were deleted from the lake are removed;
3. recomputes `posts.dup_of` over the whole table;
4. runs the quality checks and publishes the snapshot (`publish.publish`).

Data moves in bulk: each Parquet file is read once into Arrow (from an open file handle, so
the fingerprint, metadata and rows all belong to the same file even if a stage replaces it
meanwhile) and inserted with `INSERT ... SELECT` over the registered Arrow table.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from opinion import storage
from opinion.config import Settings
from opinion.lake import (
    MENTION_POSTS_SCHEMA,
    MENTIONS_SCHEMA,
    META_WRITE_ID,
    REJECTS_SCHEMA,
    Partition,
    RejectFile,
    conform,
    file_fingerprint,
    list_partitions,
    list_rejects,
    partition_fingerprint,
)
from opinion.warehouse.migrate import connect
from opinion.warehouse.publish import publish
from opinion.warehouse.quality import DEFAULT_MAX_AGE_DAYS, CheckResult

log = logging.getLogger(__name__)

STAGE = "load"

#: Test hook: called with the partition's lake path inside its transaction, just before
#: COMMIT. Lets tests kill or pause a load at a deterministic point. Never set in production.
_BEFORE_COMMIT: Callable[[str], None] | None = None

_DEDUP_SQL = """
UPDATE posts SET dup_of = fresh.dup_of
FROM (
    WITH keys AS (
        SELECT post_id, created_at, 'h:' || text_hash AS k
        FROM posts WHERE text_hash IS NOT NULL
        UNION ALL
        SELECT post_id, created_at, 'b:' || band AS k
        FROM (SELECT post_id, created_at, unnest(minhash_bands) AS band FROM posts)
        WHERE band IS NOT NULL
    ),
    first_in_key AS (
        SELECT k, min(struct_pack(c := created_at, p := post_id)) AS first
        FROM keys GROUP BY k
    ),
    earliest AS (
        SELECT keys.post_id, min(f.first) AS first
        FROM keys JOIN first_in_key f USING (k)
        WHERE f.first < struct_pack(c := keys.created_at, p := keys.post_id)
        GROUP BY keys.post_id
    )
    SELECT posts.post_id, earliest.first.p AS dup_of
    FROM posts LEFT JOIN earliest USING (post_id)
) AS fresh
WHERE posts.post_id = fresh.post_id AND posts.dup_of IS DISTINCT FROM fresh.dup_of
"""


class LoadError(RuntimeError):
    """Some partitions failed to load (the others were loaded and published)."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        failed = "; ".join(f"{p}: {m}" for p, m in report.partitions_failed.items())
        super().__init__(f"{len(report.partitions_failed)} lake files failed to load: {failed}")


@dataclass
class LoadReport:
    """What one `load_lake` call did."""

    partitions_loaded: list[str] = field(default_factory=list)
    partitions_skipped: int = 0
    partitions_failed: dict[str, str] = field(default_factory=dict)
    rejects_files_loaded: list[str] = field(default_factory=list)
    rejects_files_removed: list[str] = field(default_factory=list)
    posts_loaded: int = 0
    mentions_loaded: int = 0
    rejects_loaded: int = 0
    rows_duplicate: int = 0
    dup_of_changed: int = 0
    checks: list[CheckResult] = field(default_factory=list)
    published: Path | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(
            self.partitions_loaded or self.rejects_files_loaded or self.rejects_files_removed
        )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_consistent(paths: dict[str, Path]) -> tuple[str, dict[str, pa.Table]]:
    """Read files through open handles: (fingerprint of exactly those files, tables)."""
    tables, prints = {}, []
    for name in sorted(paths):
        with paths[name].open("rb") as fh:
            if storage.is_remote(paths[name]):  # object storage: no fstat, see opinion.storage
                tables[name] = pq.read_table(fh)
                wid = (tables[name].schema.metadata or {}).get(META_WRITE_ID.encode(), b"")
                prints.append(f"{name}={storage.fingerprint(paths[name], wid.decode())}")
                continue
            st = os.fstat(fh.fileno())
            prints.append(f"{name}={st.st_size}:{st.st_mtime_ns}")
            tables[name] = pq.read_table(fh)
    return "|".join(prints), tables


def _loaded_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT lake_path, fingerprint FROM loaded_partitions").fetchall())


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _record_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    lake_path: str,
    started: float,
    status: str,
    counts: tuple[int, int, int, int] = (0, 0, 0, 0),
    message: str | None = None,
) -> None:
    con.execute(
        """
        INSERT INTO runs (run_id, stage, "partition", started_at, finished_at, status,
                          rows_in, rows_loaded, rows_rejected, rows_duplicate, message)
        VALUES (?, ?, ?, to_timestamp(?), now(), ?, ?, ?, ?, ?, ?)
        """,
        [run_id, STAGE, lake_path, started, status, *counts, message],
    )


def _mark_loaded(
    con: duckdb.DuckDBPyConnection, lake_path: str, kind: str, fingerprint: str, run_id: str
) -> None:
    con.execute(
        """
        INSERT INTO loaded_partitions (lake_path, kind, fingerprint, run_id, loaded_at)
        VALUES (?, ?, ?, ?, now())
        ON CONFLICT (lake_path) DO UPDATE SET kind = excluded.kind,
            fingerprint = excluded.fingerprint, run_id = excluded.run_id,
            loaded_at = excluded.loaded_at
        """,
        [lake_path, kind, fingerprint, run_id],
    )


def _upsert_sql(table: str, key: str, cols: list[str], source: str, extra: dict[str, str]) -> str:
    names = cols + list(extra)
    values = [_q(c) for c in cols] + list(extra.values())
    updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in names if c != key)
    return (
        f"INSERT INTO {table} ({', '.join(_q(c) for c in names)}) "
        f"SELECT {', '.join(values)} FROM {source} "
        f"ON CONFLICT ({_q(key)}) DO UPDATE SET {updates}"
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _in_transaction(con: duckdb.DuckDBPyConnection, lake_path: str, body: Callable[[], None]):
    con.execute("BEGIN TRANSACTION")
    try:
        body()
        if _BEFORE_COMMIT is not None:
            _BEFORE_COMMIT(lake_path)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _load_mentions_partition(
    con: duckdb.DuckDBPyConnection, part: Partition, report: LoadReport
) -> None:
    rel, started, run_id = part.relpath, time.time(), uuid.uuid4().hex
    fingerprint, tables = _read_consistent(
        {"posts": part.file("posts"), "mentions": part.file("mentions")}
    )
    write_ids = {(t.schema.metadata or {}).get(META_WRITE_ID.encode()) for t in tables.values()}
    if len(write_ids) != 1:
        raise ValueError("posts.parquet and mentions.parquet come from different writes")
    posts = conform(tables["posts"], MENTION_POSTS_SCHEMA)
    mentions = conform(tables["mentions"], MENTIONS_SCHEMA)
    post_cols = [c for c in _columns(con, "posts") if c in posts.column_names]
    mention_cols = [c for c in _columns(con, "mentions") if c in mentions.column_names]
    counts: dict[str, int] = {}

    def body() -> None:
        con.register("_src_posts", posts)
        con.register("_src_mentions", mentions)
        if _count(con, "SELECT count(*) FROM _src_posts WHERE post_id IS NULL"):
            raise ValueError("posts with a null post_id")
        if _count(con, "SELECT count(*) FROM _src_mentions WHERE mention_id IS NULL"):
            raise ValueError("mentions with a null mention_id")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _p AS SELECT * FROM _src_posts QUALIFY row_number() "
            "OVER (PARTITION BY post_id ORDER BY collected_at DESC NULLS LAST, "
            "extracted_at DESC NULLS LAST) = 1"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _m AS SELECT * FROM _src_mentions QUALIFY row_number() "
            "OVER (PARTITION BY mention_id ORDER BY confidence DESC NULLS LAST) = 1"
        )
        orphans = _count(
            con, "SELECT count(*) FROM _m WHERE post_id NOT IN (SELECT post_id FROM _p)"
        )
        if orphans:
            raise ValueError(f"{orphans} mentions whose post_id is not in posts.parquet")
        con.execute(
            "DELETE FROM mentions WHERE post_id IN (SELECT post_id FROM _p) "
            "OR post_id IN (SELECT post_id FROM posts WHERE lake_partition = ?)",
            [rel],
        )
        con.execute(
            "DELETE FROM posts WHERE lake_partition = ? "
            "AND post_id NOT IN (SELECT post_id FROM _p)",
            [rel],
        )
        con.execute(
            _upsert_sql(
                "posts", "post_id", post_cols, "_p",
                {"lake_partition": "?", "loaded_at": "now()"},
            ),
            [rel],
        )  # fmt: skip
        con.execute(
            _upsert_sql("mentions", "mention_id", mention_cols, "_m", {"loaded_at": "now()"})
        )
        counts["posts"] = _count(con, "SELECT count(*) FROM _p")
        counts["mentions"] = _count(con, "SELECT count(*) FROM _m")
        rows_in = posts.num_rows
        dup = rows_in - counts["posts"]
        counts["duplicate"] = dup
        _record_run(
            con, run_id, rel, started, "ok", (rows_in, counts["posts"], 0, dup),
            f"posts={counts['posts']} mentions={counts['mentions']}",
        )  # fmt: skip
        _mark_loaded(con, rel, "mentions", fingerprint, run_id)
        con.execute("DROP TABLE _p")
        con.execute("DROP TABLE _m")

    try:
        _in_transaction(con, rel, body)
    finally:
        con.unregister("_src_posts")
        con.unregister("_src_mentions")
    report.partitions_loaded.append(rel)
    report.posts_loaded += counts["posts"]
    report.mentions_loaded += counts["mentions"]
    report.rows_duplicate += counts["duplicate"]


def _load_rejects_file(con: duckdb.DuckDBPyConnection, rf: RejectFile, report: LoadReport) -> None:
    rel, started, run_id = rf.relpath, time.time(), uuid.uuid4().hex
    fingerprint, tables = _read_consistent({"rejects": rf.path})
    rejects = conform(tables["rejects"], REJECTS_SCHEMA)
    counts: dict[str, int] = {}

    def body() -> None:
        con.register("_src_rejects", rejects)
        # reject_id == opinion.records.stable_id(stage, source, record)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _r AS
            SELECT * FROM (
                SELECT left(sha1(stage || chr(31) || source || chr(31) || coalesce(record, '')),
                            16) AS reject_id,
                       record, stage, source, reason, rejected_at
                FROM (SELECT record, coalesce(stage, ?) AS stage, coalesce(source, ?) AS source,
                             reason, rejected_at FROM _src_rejects)
            )
            QUALIFY row_number() OVER (PARTITION BY reject_id
                                       ORDER BY rejected_at DESC NULLS LAST) = 1
            """,
            [rf.stage, rf.source],
        )
        con.execute(
            "DELETE FROM rejects WHERE lake_file = ? "
            "AND reject_id NOT IN (SELECT reject_id FROM _r)",
            [rel],
        )
        cols = ["reject_id", "record", "stage", "source", "reason", "rejected_at"]
        con.execute(
            _upsert_sql(
                "rejects", "reject_id", cols, "_r", {"lake_file": "?", "loaded_at": "now()"}
            ),
            [rel],
        )
        counts["rejects"] = n = _count(con, "SELECT count(*) FROM _r")
        _record_run(con, run_id, rel, started, "ok", (rejects.num_rows, n, rejects.num_rows, 0))
        _mark_loaded(con, rel, "rejects", fingerprint, run_id)
        con.execute("DROP TABLE _r")

    try:
        _in_transaction(con, rel, body)
    finally:
        con.unregister("_src_rejects")
    report.rejects_files_loaded.append(rel)
    report.rejects_loaded += counts["rejects"]


def _remove_rejects_file(con: duckdb.DuckDBPyConnection, rel: str, report: LoadReport) -> None:
    started, run_id = time.time(), uuid.uuid4().hex

    def body() -> None:
        n = _count(con, "SELECT count(*) FROM rejects WHERE lake_file = ?", [rel])
        con.execute("DELETE FROM rejects WHERE lake_file = ?", [rel])
        con.execute("DELETE FROM loaded_partitions WHERE lake_path = ?", [rel])
        _record_run(con, run_id, rel, started, "removed", (0, 0, 0, 0), f"deleted {n} rejects")

    _in_transaction(con, rel, body)
    report.rejects_files_removed.append(rel)


def _fail(con: duckdb.DuckDBPyConnection, rel: str, exc: BaseException, report: LoadReport):
    message = f"{type(exc).__name__}: {exc}"
    log.error("loading %s failed: %s", rel, message)
    report.partitions_failed[rel] = message
    _record_run(con, uuid.uuid4().hex, rel, time.time(), "failed", message=message[:2000])


def recompute_dup_of(con: duckdb.DuckDBPyConnection) -> int:
    """Set `posts.dup_of` for the whole table; returns how many rows changed.

    dup_of = the earliest (created_at, post_id) other post sharing this post's text_hash or
    any of its minhash_bands; null when no such post is earlier than this one.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        row = con.execute(_DEDUP_SQL).fetchone()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(row[0]) if row else 0


def load_into(con: duckdb.DuckDBPyConnection, lake_dir: Path, report: LoadReport) -> None:
    """Steps 1-3 of `load_lake` on an open writer connection (no checks, no publish)."""
    loaded = _loaded_fingerprints(con)
    for part in list_partitions(lake_dir, "mentions"):
        try:
            if loaded.get(part.relpath) == partition_fingerprint(part):
                report.partitions_skipped += 1
                continue
            _load_mentions_partition(con, part, report)
        except Exception as exc:  # one bad partition must not stop the others
            _fail(con, part.relpath, exc, report)
    present = set()
    for rf in list_rejects(lake_dir):
        present.add(rf.relpath)
        try:
            if loaded.get(rf.relpath) == f"rejects={file_fingerprint(rf.path)}":
                report.partitions_skipped += 1
                continue
            _load_rejects_file(con, rf, report)
        except Exception as exc:
            _fail(con, rf.relpath, exc, report)
    gone = con.execute(
        "SELECT lake_path FROM loaded_partitions WHERE kind = 'rejects' ORDER BY lake_path"
    ).fetchall()
    for (rel,) in gone:
        if rel not in present:
            _remove_rejects_file(con, rel, report)
    report.dup_of_changed = recompute_dup_of(con)


def mirror_cursors(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> int:
    """Copy the collectors' cursors (JSON files in the lake, written by parallel collect tasks
    that may not open DuckDB) into `source_state`, so analysts can see where each source is."""
    from opinion.sources.state import all_cursors

    cursors = all_cursors(lake_dir)
    for c in cursors:
        current = con.execute(
            "SELECT cursor FROM source_state WHERE source = ? AND key = ?", [c["source"], c["key"]]
        ).fetchone()
        if current is None or current[0] != c["cursor"]:
            con.execute(
                "INSERT INTO source_state (source, key, cursor, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source, key) DO UPDATE "
                "SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                [c["source"], c["key"], c["cursor"], c["updated_at"]],
            )
    return len(cursors)


def load_lake(
    settings: Settings,
    *,
    raw_rows: int | None = None,
    publish_snapshot: bool = True,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    freshness_required: bool = False,
) -> LoadReport:
    """Load every changed lake partition into `settings.writer_warehouse`, then run the quality
    checks and publish `settings.warehouse` (unless `publish_snapshot=False`).

    Idempotent: unchanged partitions are skipped, so a second call loads nothing. Raises
    `QualityError` if a required check fails (nothing is published), `LoadError` (after
    publishing the partitions that did load) if some lake files could not be loaded.
    """
    t0 = time.monotonic()
    report = LoadReport()
    con = connect(settings.writer_warehouse)
    try:
        load_into(con, settings.lake_dir, report)
        mirror_cursors(con, settings.lake_dir)
        from opinion.warehouse.aggregates import rebuild  # the insights layer's tables

        rebuild(con, settings)
        if publish_snapshot:
            report.checks = publish(
                settings,
                con,
                raw_rows=raw_rows,
                max_age_days=max_age_days,
                freshness_required=freshness_required,
            )
            report.published = Path(settings.warehouse)
    finally:
        con.close()  # no-op when publish already closed it
        report.seconds = time.monotonic() - t0
    if report.partitions_failed:
        raise LoadError(report)
    log.info(
        "load: %d partitions loaded, %d skipped, %d failed in %.2fs",
        len(report.partitions_loaded) + len(report.rejects_files_loaded),
        report.partitions_skipped,
        len(report.partitions_failed),
        report.seconds,
    )
    return report
