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

import errno
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from opinion.config import Settings
from opinion.lake import (
    MENTION_POSTS_SCHEMA,
    MENTIONS_SCHEMA,
    META_WRITE_ID,
    REJECTS_SCHEMA,
    Lake,
    Partition,
    RejectFile,
    conform,
)
from opinion.warehouse import changes
from opinion.warehouse.migrate import connect
from opinion.warehouse.publish import LAST_PUBLISH, publish, snapshot_generation
from opinion.warehouse.quality import DEFAULT_MAX_AGE_DAYS, CheckResult, run_checks
from opinion.warehouse.resources import apply_limits

log = logging.getLogger(__name__)

STAGE = "load"

#: A merge transaction takes at most this many partitions / bytes of Parquet: one set-based
#: statement per batch instead of one per partition, in bounded memory.
BATCH_PARTITIONS = 512
BATCH_BYTES = 64 * 1024**2

#: Test hook: called with the partition's lake path inside its transaction, just before
#: COMMIT. Lets tests kill or pause a load at a deterministic point. Never set in production.
_BEFORE_COMMIT: Callable[[str], None] | None = None

# dup_of for the posts of {scope} (post_id), over the (post_id, created_at, k) rows of {keys}
# that hold every key of those posts: the earliest (created_at, post_id) sharing any key
_FRESH_DUP_SQL = """
CREATE OR REPLACE TEMP TABLE _fresh AS
WITH first_in_key AS (
    SELECT k, min(struct_pack(c := created_at, p := post_id)) AS first FROM {keys} GROUP BY k
),
earliest AS (
    SELECT kk.post_id, min(f.first) AS first
    FROM {keys} kk JOIN first_in_key f USING (k)
    WHERE f.first < struct_pack(c := kk.created_at, p := kk.post_id)
    GROUP BY kk.post_id
)
SELECT s.post_id, earliest.first.p AS dup_of FROM {scope} s LEFT JOIN earliest USING (post_id)
"""

# the duplicate keys of the posts matching {where}: ('h:' text_hash, 'b:' band)
_KEYS_SQL = """
SELECT post_id, created_at, 'h:' || text_hash AS k FROM {src}
WHERE text_hash IS NOT NULL AND ({where_h})
UNION ALL
SELECT post_id, created_at, k FROM (
    SELECT post_id, created_at, 'b:' || unnest(minhash_bands) AS k FROM {src}
) WHERE k IS NOT NULL AND ({where_b})
"""


# the rowids and keys of the posts holding a key of {keys} (column k, 'h:'/'b:' prefixed): the
# prefixes are stripped from the few keys, not added to the ~16 band strings of every post, and
# only a rowid travels through the unnest (the post's id and time are fetched for the hits)
_HITS_SQL = """
CREATE OR REPLACE TEMP TABLE _hits AS
SELECT rowid AS rid, 'h:' || text_hash AS k FROM posts
WHERE text_hash IN (SELECT substr(k, 3) FROM {keys} WHERE starts_with(k, 'h:'))
UNION ALL
SELECT rid, 'b:' || b FROM (SELECT rowid AS rid, unnest(minhash_bands) AS b FROM posts)
WHERE b IN (SELECT substr(k, 3) FROM {keys} WHERE starts_with(k, 'b:'))
"""


# the full refresh: only keys held by two posts or more can make a duplicate. Find them by a
# 64-bit hash first (an aggregate over fixed-width values, instead of over ~100 M strings of up
# to 35 bytes at 10 M mentions, which spilled more than 24 GB), then keep the (post, key) rows
# of those hashes; a hash collision only adds a key that the exact pass then finds unshared
_KEY_HASHES = """
SELECT hash('h:' || text_hash) AS h FROM posts WHERE text_hash IS NOT NULL
UNION ALL
SELECT hash('b:' || b) FROM (SELECT unnest(minhash_bands) AS b FROM posts) WHERE b IS NOT NULL
"""
_SHARED_HITS_SQL = """
CREATE OR REPLACE TEMP TABLE _hits AS
SELECT rowid AS rid, 'h:' || text_hash AS k FROM posts
WHERE text_hash IS NOT NULL AND hash('h:' || text_hash) IN (SELECT h FROM _shared)
UNION ALL
SELECT rid, k FROM (SELECT rowid AS rid, 'b:' || unnest(minhash_bands) AS k FROM posts)
WHERE k IS NOT NULL AND hash(k) IN (SELECT h FROM _shared)
"""
#: Keys aggregated per pass of the full refresh: the hash table of one pass stays a few
#: hundred MB (one pass over ~100 M keys ran out of a 4 GB memory_limit)
SHARED_KEYS_PER_PASS = 8_000_000


def _shared_key_hashes(con: duckdb.DuckDBPyConnection) -> None:
    """`_shared`: the 64-bit hashes of the keys two posts or more hold, aggregated in passes
    over hash ranges so that memory stays bounded whatever the table size."""
    n_keys = _count(
        con,
        "SELECT count(text_hash) + coalesce(sum(len(minhash_bands)), 0) FROM posts",
    )
    passes = max(1, -(-n_keys // SHARED_KEYS_PER_PASS))
    con.execute("CREATE OR REPLACE TEMP TABLE _shared (h UBIGINT)")
    for part in range(passes):
        con.execute(
            f"INSERT INTO _shared SELECT h FROM ({_KEY_HASHES}) "
            f"WHERE h % {passes} = {part} GROUP BY h HAVING count(*) > 1"
        )


def _find_holders(
    con: duckdb.DuckDBPyConnection, keys: str | None, into: str, append: bool
) -> None:
    """(post_id, created_at, k) rows of every post holding a key of `keys`, into `into`;
    `keys=None`: of every key that two posts or more hold (the full refresh)."""
    if keys is None:
        _shared_key_hashes(con)
        con.execute(_SHARED_HITS_SQL)
        con.execute("DROP TABLE _shared")
    else:
        con.execute(_HITS_SQL.format(keys=keys))
    rows = (
        "SELECT p.post_id, p.created_at, h.k FROM (SELECT rowid AS rid, post_id, created_at "
        "FROM posts WHERE rowid IN (SELECT rid FROM _hits)) p JOIN _hits h USING (rid)"
    )
    if append:
        con.execute(f"INSERT INTO {into} {rows}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS {rows}")
    con.execute("DROP TABLE _hits")


def _keys_sql(where_h: str, where_b: str, src: str = "posts") -> str:
    """(post_id, created_at, k) rows of `src` whose text-hash / band keys match."""
    return _KEYS_SQL.format(where_h=where_h, where_b=where_b, src=src)


#: Refresh dup_of over the whole table when more than this share of posts is affected.
FULL_DEDUP_SHARE = 0.25
#: ... and straight away when more keys are queued than this many per post (a post has up to
#: 17 keys, so 2 per post means roughly an eighth of the posts or more changed).
FULL_DEDUP_KEYS_PER_POST = 2

# queue the (brand, day) groups of the posts in {src} for the aggregate refresh
_QUEUE_GROUPS_SQL = """
INSERT INTO pending_agg_groups
SELECT DISTINCT brand, CAST(timezone('UTC', created_at) AS DATE) FROM {src}
WHERE brand IS NOT NULL AND created_at IS NOT NULL
"""

# queue the duplicate keys of the posts whose dedup identity (id, time, keys) a merge changed:
# new posts, removed posts, and posts whose created_at, text_hash or bands differ. A partition
# rewritten with the same posts (a polarity fix, a re-extraction) queues nothing, so the
# dup_of refresh skips its scans of the whole table
_QUEUE_KEYS_SQL = """
INSERT INTO pending_dedup_keys
WITH old AS (SELECT post_id, created_at, text_hash, minhash_bands FROM _old),
new AS (SELECT post_id, created_at, text_hash, minhash_bands FROM _p),
moved AS ((SELECT * FROM old EXCEPT SELECT * FROM new)
          UNION ALL (SELECT * FROM new EXCEPT SELECT * FROM old))
SELECT DISTINCT k FROM (
    SELECT 'h:' || text_hash AS k FROM moved WHERE text_hash IS NOT NULL
    UNION ALL
    SELECT 'b:' || unnest(minhash_bands) FROM moved
) WHERE k IS NOT NULL
"""


@dataclass
class _Part:
    """A mentions partition read and checked, ready to merge."""

    relpath: str
    fingerprint: str
    posts: pa.Table
    mentions: pa.Table
    n_posts: int
    n_mentions: int


def bump_generation(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the writer as changed (the published snapshot records the generation it holds)."""
    con.execute(
        "INSERT INTO load_state VALUES ('generation', ?, now()) ON CONFLICT (key) "
        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [uuid.uuid4().hex],
    )


def generation(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT value FROM load_state WHERE key = 'generation'").fetchone()
    return None if row is None else row[0]


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
    publish_mode: str = ""  # how the snapshot was written: delta (changed rows) or copy
    aggregates: str = "none"  # what aggregates.refresh did: none, groups or rebuild
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    @property
    def changed(self) -> bool:
        return bool(
            self.partitions_loaded or self.rejects_files_loaded or self.rejects_files_removed
        )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


def _insert_sql(table: str, cols: list[str], source: str, order: str = "") -> str:
    names = ", ".join(_q(c) for c in cols)
    order_by = f" ORDER BY {order}" if order else ""
    return f"INSERT INTO {table} ({names}, loaded_at) SELECT {names}, now() FROM {source}{order_by}"


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


def _read_partition(part: Partition) -> _Part:
    """Read and check one mentions partition (no database work)."""
    fingerprint, tables = part.lake.read_consistent(
        {"posts": part.file("posts"), "mentions": part.file("mentions")}
    )
    write_ids = {(t.schema.metadata or {}).get(META_WRITE_ID.encode()) for t in tables.values()}
    if len(write_ids) != 1:
        raise ValueError("posts.parquet and mentions.parquet come from different writes")
    posts = conform(tables["posts"], MENTION_POSTS_SCHEMA)
    mentions = conform(tables["mentions"], MENTIONS_SCHEMA)
    if posts.column("post_id").null_count:
        raise ValueError("posts with a null post_id")
    if mentions.column("mention_id").null_count:
        raise ValueError("mentions with a null mention_id")
    known = pc.is_in(mentions.column("post_id"), value_set=posts.column("post_id"))
    orphans = mentions.num_rows - pc.sum(known).as_py() if mentions.num_rows else 0
    if orphans:
        raise ValueError(f"{orphans} mentions whose post_id is not in posts.parquet")
    return _Part(
        relpath=part.relpath,
        fingerprint=fingerprint,
        posts=posts,
        mentions=mentions,
        n_posts=pc.count_distinct(posts.column("post_id")).as_py() if posts.num_rows else 0,
        n_mentions=(
            pc.count_distinct(mentions.column("mention_id")).as_py() if mentions.num_rows else 0
        ),
    )


def _stack(parts: list[_Part], attr: str, cols: list[str]) -> pa.Table:
    """One Arrow table of the parts' `attr` tables (warehouse columns + lake_partition)."""
    pieces = []
    for p in parts:
        t = getattr(p, attr).select(cols)
        label = pa.array([p.relpath] * t.num_rows, pa.string())  # typed: may be empty
        pieces.append(t.append_column("lake_partition", label))
    return pa.concat_tables(pieces)


def _merge_batch(con: duckdb.DuckDBPyConnection, parts: list[_Part], started: float) -> None:
    """Merge several checked partitions in ONE transaction with set-based statements.

    Rows of a post that appears in several partitions of the batch collapse to the newest
    `collected_at` (then the last partition); its mentions come from that partition only.
    The (brand, day) groups and duplicate keys of every post written or removed are queued in
    `pending_agg_groups` / `pending_dedup_keys` in the same transaction.
    """
    post_cols = [c for c in _columns(con, "posts") if c in MENTION_POSTS_SCHEMA.names]
    mention_cols = [c for c in _columns(con, "mentions") if c in MENTIONS_SCHEMA.names]
    src_posts = _stack(parts, "posts", post_cols)
    src_mentions = _stack(parts, "mentions", mention_cols)
    meta = pa.table(
        {
            "lake_path": [p.relpath for p in parts],
            "fingerprint": [p.fingerprint for p in parts],
            "run_id": [uuid.uuid4().hex for _ in parts],
            "rows_in": pa.array([p.posts.num_rows for p in parts], pa.int64()),
            "rows_loaded": pa.array([p.n_posts for p in parts], pa.int64()),
            "message": [f"posts={p.n_posts} mentions={p.n_mentions}" for p in parts],
        }
    )
    label = parts[0].relpath if len(parts) == 1 else f"{len(parts)} partitions"

    def body() -> None:
        con.register("_src_posts", src_posts)
        con.register("_src_mentions", src_mentions)
        con.register("_batch", meta)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _p AS SELECT * FROM _src_posts QUALIFY row_number() "
            "OVER (PARTITION BY post_id ORDER BY collected_at DESC NULLS LAST, "
            "extracted_at DESC NULLS LAST, lake_partition DESC) = 1"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _m AS SELECT m.* FROM _src_mentions m "
            "SEMI JOIN _p USING (post_id, lake_partition) QUALIFY row_number() "
            "OVER (PARTITION BY mention_id ORDER BY confidence DESC NULLS LAST) = 1"
        )
        # what these partitions held before, and any older row of the posts they hold now.
        # Row ids first, then the columns of those rows only: a join filter is not pushed
        # into the scan, so selecting the columns directly reads them for every post
        # (4-7 s instead of 0.3 s at 9 M posts)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _old_rows AS SELECT rowid AS rid FROM posts "
            "WHERE lake_partition IN (SELECT lake_path FROM _batch) "
            "OR post_id IN (SELECT post_id FROM _p)"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _old AS "
            "SELECT post_id, brand, created_at, text_hash, minhash_bands FROM posts "
            "WHERE rowid IN (SELECT rid FROM _old_rows)"
        )
        con.execute(_QUEUE_GROUPS_SQL.format(src="_old"))
        con.execute(_QUEUE_GROUPS_SQL.format(src="_p"))
        con.execute(_QUEUE_KEYS_SQL)
        con.execute("DELETE FROM mentions WHERE post_id IN (SELECT post_id FROM _old)")
        # delete + plain insert (no ON CONFLICT: much cheaper for big batches); every row
        # written here was deleted first, so no key can collide
        con.execute("DELETE FROM posts WHERE post_id IN (SELECT post_id FROM _old)")
        # rows of one partition stay together (a later rewrite of that partition deletes from
        # a few row groups, not from all of them) and posts in time order (zone maps on
        # created_at); without ORDER BY the loader's parallel insert interleaves partitions
        con.execute(
            _insert_sql("posts", post_cols + ["lake_partition"], "_p", "lake_partition, created_at")
        )
        con.execute(_insert_sql("mentions", mention_cols, "_m", "lake_partition, post_id"))
        con.execute(
            """
            INSERT INTO runs (run_id, stage, "partition", started_at, finished_at, status,
                              rows_in, rows_loaded, rows_rejected, rows_duplicate, message)
            SELECT run_id, ?, lake_path, to_timestamp(?), now(), 'ok',
                   rows_in, rows_loaded, 0, rows_in - rows_loaded, message
            FROM _batch
            """,
            [STAGE, started],
        )
        con.execute(
            """
            INSERT INTO loaded_partitions (lake_path, kind, fingerprint, run_id, loaded_at)
            SELECT lake_path, 'mentions', fingerprint, run_id, now() FROM _batch
            ON CONFLICT (lake_path) DO UPDATE SET kind = excluded.kind,
                fingerprint = excluded.fingerprint, run_id = excluded.run_id,
                loaded_at = excluded.loaded_at
            """
        )
        changes.log_partitions(con, "_batch", "lake_path")
        bump_generation(con)
        con.execute("DROP TABLE _p")
        con.execute("DROP TABLE _m")
        con.execute("DROP TABLE _old")
        con.execute("DROP TABLE _old_rows")

    try:
        _in_transaction(con, label, body)
    finally:
        for name in ("_src_posts", "_src_mentions", "_batch"):
            con.unregister(name)


def _batches(parts: list[Partition]) -> Iterator[list[Partition]]:
    """Consecutive groups of at most BATCH_PARTITIONS partitions / ~BATCH_BYTES of files."""
    batch: list[Partition] = []
    size = 0
    for part in parts:
        try:
            n = sum(part.file(name).stat().st_size for name in ("posts", "mentions"))
        except OSError:
            n = 0
        if batch and (len(batch) >= BATCH_PARTITIONS or size + n > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(part)
        size += n
    if batch:
        yield batch


def _load_mentions_batch(
    con: duckdb.DuckDBPyConnection, batch: list[Partition], report: LoadReport
) -> None:
    """Read, check and merge a batch; a partition that fails its checks fails alone, and a
    batch whose merge fails is retried one partition at a time."""
    started = time.time()
    parts = []
    for part in batch:
        try:
            parts.append(_read_partition(part))
        except Exception as exc:  # one bad partition must not stop the others
            _fail(con, part.relpath, exc, report)
    if not parts:
        return
    try:
        _merge_batch(con, parts, started)
        done = parts
    except Exception as exc:
        if len(parts) == 1:
            _fail(con, parts[0].relpath, exc, report)
            return
        done = []
        for p in parts:
            try:
                _merge_batch(con, [p], started)
                done.append(p)
            except Exception as exc:
                _fail(con, p.relpath, exc, report)
    for p in done:
        report.partitions_loaded.append(p.relpath)
        report.posts_loaded += p.n_posts
        report.mentions_loaded += p.n_mentions
        report.rows_duplicate += p.posts.num_rows - p.n_posts


def _load_rejects_file(con: duckdb.DuckDBPyConnection, rf: RejectFile, report: LoadReport) -> None:
    rel, started, run_id = rf.relpath, time.time(), uuid.uuid4().hex
    fingerprint, tables = rf.lake.read_consistent({"rejects": rf.path})
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
        bump_generation(con)
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
        bump_generation(con)

    _in_transaction(con, rel, body)
    report.rejects_files_removed.append(rel)


def _fail(con: duckdb.DuckDBPyConnection, rel: str, exc: BaseException, report: LoadReport):
    message = f"{type(exc).__name__}: {exc}"
    log.error("loading %s failed: %s", rel, message)
    report.partitions_failed[rel] = message
    _record_run(con, uuid.uuid4().hex, rel, time.time(), "failed", message=message[:2000])
    bump_generation(con)


def _apply_fresh_dup_of(con: duckdb.DuckDBPyConnection) -> int:
    """Write `_fresh` into posts.dup_of; queue the groups of the posts that changed."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _chg AS SELECT f.post_id, f.dup_of, p.brand, "
        "CAST(timezone('UTC', p.created_at) AS DATE) AS day FROM _fresh f JOIN posts p "
        "USING (post_id) WHERE p.dup_of IS DISTINCT FROM f.dup_of"
    )
    n = _count(con, "SELECT count(*) FROM _chg")
    changes.log_posts(con, "_chg", n)
    if n:
        con.execute(
            "INSERT INTO pending_agg_groups SELECT DISTINCT brand, day FROM _chg "
            "WHERE brand IS NOT NULL AND day IS NOT NULL"
        )
        con.execute(
            "UPDATE posts SET dup_of = _chg.dup_of FROM _chg WHERE posts.post_id = _chg.post_id"
        )
    con.execute("DROP TABLE _chg")
    con.execute("DROP TABLE _fresh")
    return n


def recompute_dup_of(con: duckdb.DuckDBPyConnection, *, full: bool = False) -> int:
    """Refresh `posts.dup_of`; returns how many rows changed.

    dup_of = the earliest (created_at, post_id) other post sharing this post's text_hash or
    any of its minhash_bands; null when no such post is earlier than this one. A post's dup_of
    can only change when a post sharing one of its keys was written or removed, so only the
    posts holding a key of `pending_dedup_keys` are recomputed (over every post sharing one of
    their keys); `full=True`, or a change touching most posts, recomputes the whole table.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        n_posts = _count(con, "SELECT count(*) FROM posts")
        pending = _count(con, "SELECT count(*) FROM pending_dedup_keys")
        if pending > FULL_DEDUP_KEYS_PER_POST * n_posts:  # e.g. a first load: skip the probe
            full = True
        if not full and pending:
            # scan 1 (every post's keys): the (post, key) rows holding a pending key
            _find_holders(con, "pending_dedup_keys", "_kp", append=False)
            con.execute("CREATE OR REPLACE TEMP TABLE _aff AS SELECT DISTINCT post_id FROM _kp")
            full = _count(con, "SELECT count(*) FROM _aff") > FULL_DEDUP_SHARE * n_posts
        changed = 0
        if full:
            _find_holders(con, None, "_kp", append=False)
            con.execute(_FRESH_DUP_SQL.format(keys="_kp", scope="posts"))
            changed = _apply_fresh_dup_of(con)
        elif pending:
            # the affected posts' other keys (read from their rows only, by rowid): a post's
            # dup_of needs every post sharing ANY of its keys. Holders of pending keys are in
            # _kp already; only keys beyond those need scan 2 (none when the new posts share
            # no key with older ones, the usual new day)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _arows AS SELECT rowid AS rid FROM posts "
                "WHERE post_id IN (SELECT post_id FROM _aff)"
            )
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _extra AS SELECT DISTINCT k FROM ("
                + _keys_sql(
                    "true",
                    "true",
                    "(SELECT * FROM posts WHERE rowid IN (SELECT rid FROM _arows))",
                )
                + ") WHERE k NOT IN (SELECT k FROM pending_dedup_keys)"
            )
            if _count(con, "SELECT count(*) FROM _extra"):
                _find_holders(con, "_extra", "_kp", append=True)
            con.execute(_FRESH_DUP_SQL.format(keys="_kp", scope="_aff"))
            changed = _apply_fresh_dup_of(con)
            con.execute("DROP TABLE _arows")
            con.execute("DROP TABLE _extra")
        con.execute("DROP TABLE IF EXISTS _kp")
        con.execute("DROP TABLE IF EXISTS _aff")
        con.execute("DELETE FROM pending_dedup_keys")
        if changed:
            bump_generation(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return changed


def load_into(con: duckdb.DuckDBPyConnection, lake_dir: Path, report: LoadReport) -> None:
    """Merge the changed lake files into the writer (no dup_of, aggregates, checks, publish)."""
    loaded = _loaded_fingerprints(con)
    changed = []
    for part in Lake.of(lake_dir).list_partitions("mentions"):
        try:
            if loaded.get(part.relpath) == part.fingerprint():
                report.partitions_skipped += 1
                continue
        except OSError as exc:  # a partition deleted while listing
            _fail(con, part.relpath, exc, report)
            continue
        changed.append(part)
    for batch in _batches(changed):
        _load_mentions_batch(con, batch, report)
    present = set()
    for rf in Lake.of(lake_dir).list_rejects():
        present.add(rf.relpath)
        try:
            if loaded.get(rf.relpath) == f"rejects={rf.lake.file_fingerprint(rf.path)}":
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
            bump_generation(con)
    return len(cursors)


def load_lake(
    settings: Settings,
    *,
    raw_rows: int | None = None,
    publish_snapshot: bool = True,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    freshness_required: bool = False,
    rebuild: bool = False,
) -> LoadReport:
    """Load every changed lake partition into `settings.writer_warehouse`, refresh `dup_of`
    and the aggregates for what changed, then run the quality checks and publish
    `settings.warehouse` (unless `publish_snapshot=False`).

    Idempotent: unchanged partitions are skipped, and a call that finds nothing changed (and a
    snapshot already holding the writer's generation) does no aggregate work and does not
    publish. `rebuild=True` recomputes `dup_of` and every aggregate from all rows (after a
    taxonomy or schema change). Raises `QualityError` if a required check fails (nothing is
    published), `LoadError` (after publishing the partitions that did load) if some lake files
    could not be loaded.
    """
    from opinion.warehouse.aggregates import LAST_TIMINGS, refresh  # the insights tables

    t0 = time.monotonic()
    report = LoadReport()
    writer = Path(settings.writer_warehouse)
    con = connect(writer)
    try:
        apply_limits(con, writer.with_name(writer.name + ".spill"))
        step = time.monotonic()

        def lap(name: str) -> None:
            nonlocal step
            now = time.monotonic()
            report.timings[name] = round(now - step, 3)
            step = now

        load_into(con, settings.lake_dir, report)
        mirror_cursors(con, settings.lake_dir)
        lap("merge")
        report.dup_of_changed = recompute_dup_of(con, full=rebuild)
        lap("dup_of")
        LAST_TIMINGS.clear()
        report.aggregates = refresh(con, settings, full=rebuild)
        lap("aggregates")
        report.timings.update({f"aggregates.{k}": v for k, v in LAST_TIMINGS.items()})
        current = generation(con)
        if publish_snapshot and (rebuild or snapshot_generation(settings) != current):
            report.checks = publish(
                settings,
                con,
                raw_rows=raw_rows,
                max_age_days=max_age_days,
                freshness_required=freshness_required,
                full_checks=rebuild,
            )
            report.published = Path(settings.warehouse)
            lap("checks_and_publish")
            report.publish_mode = str(LAST_PUBLISH.get("mode", ""))
            steps = LAST_PUBLISH.get("seconds") or {}
            report.timings.update({f"publish.{k}": v for k, v in steps.items()})  # type: ignore[union-attr]
        elif raw_rows is not None or freshness_required:  # the caller asked for the checks
            report.checks = run_checks(
                con,
                raw_rows,
                max_age_days=max_age_days,
                freshness_required=freshness_required,
            )
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


def run_load(settings: Settings, rebuild: bool = False):
    """Merge the lake into the warehouse (single writer) and publish the read snapshot;
    `rebuild` recomputes dup_of and every aggregate from all rows.

    A second `load` of the same warehouse waits for the first (`OPINION_LOCK_TIMEOUT`, default
    600 s) instead of failing on DuckDB's file lock, then stops with one clear line. Disk full
    (ENOSPC) becomes a one-line error as well."""
    from opinion.locks import held

    writer = Path(settings.writer_warehouse)
    with held(writer.with_name(writer.name + ".lock"), f"a load of {writer.name}"):
        return _no_space(lambda: load_lake(settings, rebuild=rebuild), "load")


def _no_space(fn, stage: str):
    """Run `fn`; a full disk, or a writer file another program holds, becomes one clear
    RuntimeError instead of a traceback."""
    try:
        return fn()
    except duckdb.IOException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "No space left" in first or "lock" in first.lower():
            raise RuntimeError(f"{stage}: {first}") from None
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        raise RuntimeError(
            f"{stage}: no space left on device{where}; free space and re-run"
        ) from None
