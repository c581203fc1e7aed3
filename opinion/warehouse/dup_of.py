"""`posts.dup_of`: the earliest earlier post that is a VERIFIED near-duplicate of a post.

A shared text hash or MinHash band only makes two posts candidates (a band is shared by 12 %
of pairs at Jaccard 0.3); each candidate pair is verified by the clean stage's rule
(`opinion.clean.dedupe.verified_duplicate`: equal fingerprints, with equal @handles for short
texts, or shingle Jaccard >= 0.8) and the brands must match unless the post is an exact copy
(same words, same @handles). The signature is read back from the stored band keys, so most
candidates are rejected without hashing their text.

`recompute_dup_of` runs in every load after the merge (merge.py), which queues in
`pending_dedup_keys` the duplicate keys of the posts it wrote or removed: only the posts
holding such a key are recomputed, or the whole table when most posts are affected. The posts
whose dup_of changed are logged (changes.py) and their (brand, day) groups queued for the
aggregate refresh.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from opinion.warehouse import changes
from opinion.warehouse.ledger import bump_generation, count

# candidate pairs (a later post, b an earlier one) sharing a key, over the (rid, post_id,
# created_at, k) rows of _kp that hold every key of the posts of {scope}: each post is paired
# with the `PER_KEY` earliest holders of each of its keys, so a key held by a campaign of n
# copies costs n * PER_KEY pairs, not n^2 / 2. Every holder of every key of a scoped post is
# in _kp, so an incremental refresh ranks exactly as a full one
_CANDIDATES_SQL = """
CREATE OR REPLACE TEMP TABLE _cand AS
WITH ranked AS (
    SELECT rid, post_id, created_at, k, row_number() OVER (
        PARTITION BY k ORDER BY created_at NULLS LAST, post_id) AS r
    FROM _kp
)
SELECT DISTINCT s.rid AS a_rid, s.post_id AS a, e.rid AS b_rid, e.post_id AS b,
       e.created_at AS b_at
FROM ranked s JOIN ranked e ON s.k = e.k AND e.r < s.r AND e.r <= {per_key}
{where}
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
    """(rid, post_id, created_at, k) rows of every post holding a key of `keys`, into `into`;
    `keys=None`: of every key that two posts or more hold (the full refresh)."""
    if keys is None:
        _shared_key_hashes(con)
        con.execute(_SHARED_HITS_SQL)
        con.execute("DROP TABLE _shared")
    else:
        con.execute(_HITS_SQL.format(keys=keys))
    rows = (
        "SELECT h.rid, p.post_id, p.created_at, h.k FROM (SELECT rowid AS rid, post_id, created_at "
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


#: Each post is compared with at most this many earliest holders of each of its keys (the
#: clean stage's `_MAX_COMPARE`): bounded work when a campaign pastes one text n times.
PER_KEY = 64
#: Candidate pairs verified per chunk (their posts' texts are fetched per chunk).
PAIRS_PER_CHUNK = 500_000
#: Counts of the last refresh (candidate pairs, verified pairs, chunks), for the benchmark.
LAST_STATS: dict[str, int] = {}

#: Refresh dup_of over the whole table when more than this share of posts is affected.
FULL_DEDUP_SHARE = 0.25
#: ... and straight away when more keys are queued than this many per post (a post has up to
#: 17 keys, so 2 per post means roughly an eighth of the posts or more changed).
FULL_DEDUP_KEYS_PER_POST = 2


def _verify_chunk(con: duckdb.DuckDBPyConnection, where: str) -> list[tuple[str, str]]:
    """(post, dup_of) for the candidate pairs of `_cand` matching `where`: each post's
    earliest candidate that passes the clean stage's pair rule, with the same brand unless
    the post is an exact copy of it (docs/warehouse.md, "Duplicates")."""
    from opinion.clean.dedupe import dup_probe, exact_copy, verified_duplicate

    pairs = con.execute(
        f"SELECT a_rid, a, b_rid, b FROM _cand WHERE {where} ORDER BY a, b_at NULLS LAST, b"
    ).fetchall()
    if not pairs:
        return []
    rids = pa.table({"rid": sorted({r for p in pairs for r in (p[0], p[2])})})
    con.register("_rids", rids)
    try:
        rows = con.execute(
            "SELECT rowid, brand, text, text_hash, minhash_bands FROM posts "
            "WHERE rowid IN (SELECT rid FROM _rids)"
        ).fetchall()
    finally:
        con.unregister("_rids")
    probes = {r[0]: (r[1], dup_probe(r[2], r[3], r[4])) for r in rows}
    found: list[tuple[str, str]] = []
    done = None
    for a_rid, a, b_rid, b in pairs:
        if a == done:
            continue
        (brand_a, pa_), (brand_b, pb) = probes[a_rid], probes[b_rid]
        if not verified_duplicate(pa_, pb):
            continue
        if brand_a == brand_b or exact_copy(pa_, pb):
            found.append((a, b))
            done = a
    return found


def _verified_dup_of(con: duckdb.DuckDBPyConnection, scope: str | None) -> None:
    """`_fresh` (post_id, dup_of) for the posts of `scope` (every post when None), from the
    holders in `_kp`: candidate pairs by shared key, verified in Python in chunks of about
    `PAIRS_PER_CHUNK` pairs (memory stays bounded whatever the table size)."""
    where = f"WHERE s.post_id IN (SELECT post_id FROM {scope})" if scope else ""
    con.execute(_CANDIDATES_SQL.format(per_key=PER_KEY, where=where))
    n_pairs = count(con, "SELECT count(*) FROM _cand")
    chunks = max(1, -(-n_pairs // PAIRS_PER_CHUNK))
    found: list[tuple[str, str]] = []
    for part in range(chunks):
        found += _verify_chunk(con, f"hash(a) % {chunks} = {part}" if chunks > 1 else "true")
    con.execute("DROP TABLE _cand")
    LAST_STATS.update(candidates=n_pairs, verified=len(found), chunks=chunks)
    con.register(
        "_found",
        pa.table(
            {"post_id": [f[0] for f in found], "dup_of": [f[1] for f in found]},
            schema=pa.schema([("post_id", pa.string()), ("dup_of", pa.string())]),
        ),
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _fresh AS SELECT s.post_id, f.dup_of "
            f"FROM {scope or 'posts'} s LEFT JOIN _found f USING (post_id)"
        )
    finally:
        con.unregister("_found")


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

    dup_of = the earliest (created_at, post_id) earlier post sharing this post's text_hash or
    one of its minhash_bands (among the `PER_KEY` earliest holders of each key) that
    `_verify_chunk` accepts; null when there is none. A post's dup_of
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
            _verified_dup_of(con, None)
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
            _verified_dup_of(con, "_aff")
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
