"""Merge the changed lake files into the writer warehouse, in bulk.

Each Parquet file is read once into Arrow (from an open file handle, so the fingerprint,
metadata and rows all belong to the same file even if a stage replaces it meanwhile), checked,
and inserted with `INSERT ... SELECT` over the registered Arrow tables:

* `mentions/` partitions, in `batches`: `load_mentions_batch` merges a batch of partitions in
  ONE transaction of set-based statements (a partition failing its checks fails alone);
* `rejects/` files: `load_rejects_file` upserts one file, `remove_rejects_file` drops the rows
  of a file deleted from the lake.

Each transaction also records its `runs` rows and fingerprints (ledger.py) and queues what
the later steps of the load refresh: the (brand, day) groups in `pending_agg_groups`
(aggregates.py) and the duplicate keys in `pending_dedup_keys` (dup_of.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from opinion.lake import (
    MENTION_POSTS_SCHEMA,
    MENTIONS_SCHEMA,
    META_WRITE_ID,
    REJECTS_SCHEMA,
    Partition,
    RejectFile,
    conform,
)
from opinion.warehouse import changes
from opinion.warehouse.ledger import (
    STAGE,
    LoadReport,
    bump_generation,
    count,
    fail,
    mark_loaded,
    record_run,
)

#: A merge transaction takes at most this many partitions / bytes of Parquet: one set-based
#: statement per batch instead of one per partition, in bounded memory.
BATCH_PARTITIONS = 512
BATCH_BYTES = 64 * 1024**2

#: Test hook: called with the partition's lake path inside its transaction, just before
#: COMMIT. Lets tests kill or pause a load at a deterministic point. Never set in production.
_BEFORE_COMMIT: Callable[[str], None] | None = None

# queue the (brand, day) groups of the posts in {src} for the aggregate refresh
_QUEUE_GROUPS_SQL = """
INSERT INTO pending_agg_groups
SELECT DISTINCT brand, CAST(timezone('UTC', created_at) AS DATE) FROM {src}
WHERE brand IS NOT NULL AND created_at IS NOT NULL
"""

# what a post's dup_of depends on (dup_of.py): its id, time, keys, and the brand and text the
# pair rule verifies
_DEDUP_IDENTITY = "post_id, created_at, text_hash, minhash_bands, brand, text"

# queue the duplicate keys of the posts whose dedup identity a merge changed: new posts,
# removed posts, and posts whose time, keys, brand or text differ. A partition rewritten with
# the same posts (a polarity fix, a re-extraction) queues nothing, so the dup_of refresh skips
# its scans of the whole table; those posts keep their dup_of (_CARRY_DUP_OF_SQL)
_QUEUE_KEYS_SQL = f"""
INSERT INTO pending_dedup_keys
WITH old AS (SELECT {_DEDUP_IDENTITY} FROM _old),
new AS (SELECT {_DEDUP_IDENTITY} FROM _p),
moved AS ((SELECT * FROM old EXCEPT SELECT * FROM new)
          UNION ALL (SELECT * FROM new EXCEPT SELECT * FROM old))
SELECT DISTINCT k FROM (
    SELECT 'h:' || text_hash AS k FROM moved WHERE text_hash IS NOT NULL
    UNION ALL
    SELECT 'b:' || unnest(minhash_bands) FROM moved
) WHERE k IS NOT NULL
"""

# the lake has no dup_of: a re-inserted post whose dedup identity is unchanged carries the
# dup_of its old row had (no key of it was queued, so the refresh will not revisit it); the
# others start null and are recomputed from their queued keys
_SAME = " AND ".join(f"o.{c} IS NOT DISTINCT FROM _p.{c}" for c in _DEDUP_IDENTITY.split(", ")[1:])
_CARRY_DUP_OF_SQL = f"""
CREATE OR REPLACE TEMP TABLE _p AS
SELECT _p.*, o.dup_of FROM _p LEFT JOIN _old o ON o.post_id = _p.post_id AND {_SAME}
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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


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
            "SELECT post_id, created_at, text_hash, minhash_bands, brand, text, dup_of "
            "FROM posts WHERE rowid IN (SELECT rid FROM _old_rows)"
        )
        con.execute(_QUEUE_GROUPS_SQL.format(src="_old"))
        con.execute(_QUEUE_GROUPS_SQL.format(src="_p"))
        con.execute(_QUEUE_KEYS_SQL)
        con.execute(_CARRY_DUP_OF_SQL)
        con.execute("DELETE FROM mentions WHERE post_id IN (SELECT post_id FROM _old)")
        # delete + plain insert (no ON CONFLICT: much cheaper for big batches); every row
        # written here was deleted first, so no key can collide
        con.execute("DELETE FROM posts WHERE post_id IN (SELECT post_id FROM _old)")
        # rows of one partition stay together (a later rewrite of that partition deletes from
        # a few row groups, not from all of them) and posts in time order (zone maps on
        # created_at); without ORDER BY the loader's parallel insert interleaves partitions
        con.execute(
            _insert_sql(
                "posts",
                post_cols + ["lake_partition", "dup_of"],
                "_p",
                "lake_partition, created_at",
            )
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


def batches(parts: list[Partition]) -> Iterator[list[Partition]]:
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


def load_mentions_batch(
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
            fail(con, part.relpath, exc, report)
    if not parts:
        return
    try:
        _merge_batch(con, parts, started)
        done = parts
    except Exception as exc:
        if len(parts) == 1:
            fail(con, parts[0].relpath, exc, report)
            return
        done = []
        for p in parts:
            try:
                _merge_batch(con, [p], started)
                done.append(p)
            except Exception as exc:
                fail(con, p.relpath, exc, report)
    for p in done:
        report.partitions_loaded.append(p.relpath)
        report.posts_loaded += p.n_posts
        report.mentions_loaded += p.n_mentions
        report.rows_duplicate += p.posts.num_rows - p.n_posts


def load_rejects_file(con: duckdb.DuckDBPyConnection, rf: RejectFile, report: LoadReport) -> None:
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
        counts["rejects"] = n = count(con, "SELECT count(*) FROM _r")
        record_run(con, run_id, rel, started, "ok", (rejects.num_rows, n, rejects.num_rows, 0))
        mark_loaded(con, rel, "rejects", fingerprint, run_id)
        bump_generation(con)
        con.execute("DROP TABLE _r")

    try:
        _in_transaction(con, rel, body)
    finally:
        con.unregister("_src_rejects")
    report.rejects_files_loaded.append(rel)
    report.rejects_loaded += counts["rejects"]


def remove_rejects_file(con: duckdb.DuckDBPyConnection, rel: str, report: LoadReport) -> None:
    started, run_id = time.time(), uuid.uuid4().hex

    def body() -> None:
        n = count(con, "SELECT count(*) FROM rejects WHERE lake_file = ?", [rel])
        con.execute("DELETE FROM rejects WHERE lake_file = ?", [rel])
        con.execute("DELETE FROM loaded_partitions WHERE lake_path = ?", [rel])
        record_run(con, run_id, rel, started, "removed", (0, 0, 0, 0), f"deleted {n} rejects")
        bump_generation(con)

    _in_transaction(con, rel, body)
    report.rejects_files_removed.append(rel)
