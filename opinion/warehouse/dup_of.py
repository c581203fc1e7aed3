"""`posts.dup_of`: the earliest other post sharing a post's text hash or a minhash band.

`recompute_dup_of` runs in every load after the merge (merge.py), which queues in
`pending_dedup_keys` the duplicate keys of the posts it wrote or removed: only the posts
holding such a key are recomputed, or the whole table when most posts are affected. The posts
whose dup_of changed are logged (changes.py) and their (brand, day) groups queued for the
aggregate refresh.
"""

from __future__ import annotations

import duckdb

from opinion.warehouse import changes
from opinion.warehouse.ledger import bump_generation, count

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
    n_keys = count(
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


def _apply_fresh_dup_of(con: duckdb.DuckDBPyConnection) -> int:
    """Write `_fresh` into posts.dup_of; queue the groups of the posts that changed."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _chg AS SELECT f.post_id, f.dup_of, p.brand, "
        "CAST(timezone('UTC', p.created_at) AS DATE) AS day FROM _fresh f JOIN posts p "
        "USING (post_id) WHERE p.dup_of IS DISTINCT FROM f.dup_of"
    )
    n = count(con, "SELECT count(*) FROM _chg")
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
        n_posts = count(con, "SELECT count(*) FROM posts")
        pending = count(con, "SELECT count(*) FROM pending_dedup_keys")
        if pending > FULL_DEDUP_KEYS_PER_POST * n_posts:  # e.g. a first load: skip the probe
            full = True
        if not full and pending:
            # scan 1 (every post's keys): the (post, key) rows holding a pending key
            _find_holders(con, "pending_dedup_keys", "_kp", append=False)
            con.execute("CREATE OR REPLACE TEMP TABLE _aff AS SELECT DISTINCT post_id FROM _kp")
            full = count(con, "SELECT count(*) FROM _aff") > FULL_DEDUP_SHARE * n_posts
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
            if count(con, "SELECT count(*) FROM _extra"):
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
