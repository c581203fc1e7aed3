"""The change log: which partitions, posts and aggregate groups each load rewrote.

Publishing (opinion/warehouse/publish.py) brings a stale snapshot up to date by copying only
the rows the log names since that snapshot's `change_seq`, instead of copying the whole file:
the cost of a publish follows the change, not the history. Entries are written in the same
transaction as the change they describe, so a killed load never leaves a change unlogged.
"""

from __future__ import annotations

import duckdb

#: More changed posts than this in one dup_of refresh (a first load): log 'full' instead of
#: every post; the next publish then copies the file.
MAX_LOGGED_POSTS = 200_000


def log_partitions(con: duckdb.DuckDBPyConnection, source: str, column: str) -> None:
    """Log the lake partitions named in `source.column` as rewritten."""
    con.execute(
        f"INSERT INTO change_log (kind, key) SELECT DISTINCT 'partition', {column} FROM {source}"
    )


def log_posts(con: duckdb.DuckDBPyConnection, source: str, count: int) -> None:
    """Log the posts of `source.post_id` (whose dup_of changed); `count` of them."""
    if count > MAX_LOGGED_POSTS:
        log_full(con)
    elif count:
        con.execute(f"INSERT INTO change_log (kind, key) SELECT 'post', post_id FROM {source}")


def log_groups(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Log the (brand, day) aggregate groups of `source` as recomputed."""
    con.execute(
        f"INSERT INTO change_log (kind, key, day) SELECT DISTINCT 'group', brand, day FROM {source}"
    )


def log_full(con: duckdb.DuckDBPyConnection) -> None:
    """Too much changed to list: the next publish copies the whole file."""
    con.execute("INSERT INTO change_log (kind) VALUES ('full')")


def last_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The newest entry's sequence number (0 for an empty log)."""
    row = con.execute("SELECT coalesce(max(seq), 0) FROM change_log").fetchone()
    return int(row[0]) if row else 0
