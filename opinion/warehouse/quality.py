"""Data-quality checks run on the writer database before a snapshot is published.

`run_checks` returns one `CheckResult` per check. Required checks that fail raise
`QualityError` (naming them), which stops `publish` and leaves the previous snapshot in place.
Warning-level checks (freshness by default) are reported but never block.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from opinion.records import POLARITIES

log = logging.getLogger(__name__)

#: Reject stages that happen before a row reaches the raw lake; they are not raw rows, so the
#: row-count reconciliation leaves them out.
PRE_RAW_STAGES: tuple[str, ...] = ("collect",)
MAX_POLARITY_SHARE = 0.98
MIN_POSTS_FOR_SHARES = 50
DEFAULT_MAX_AGE_DAYS = 30.0
#: Duplicates above this share of a day's posts are a warning (env OPINION_MAX_DUPLICATE_SHARE):
#: a retweet storm is real, but a broken duplicate rule silently drops opinions (issue 27)
DEFAULT_MAX_DUPLICATE_SHARE = 0.05


def max_duplicate_share() -> float:
    return float(os.environ.get("OPINION_MAX_DUPLICATE_SHARE", DEFAULT_MAX_DUPLICATE_SHARE))


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    required: bool = True


class QualityError(Exception):
    """Raised when required checks fail; `.results` holds every check's result."""

    def __init__(self, results: list[CheckResult]) -> None:
        self.results = list(results)
        parts = "; ".join(f"{r.name}: {r.detail}" for r in self.failed)
        super().__init__(f"quality checks failed: {parts}")

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.required and not r.passed]


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None):
    row = con.execute(sql, params or []).fetchone()
    return None if row is None else row[0]


def _new_rows(table: str, since: datetime | None, alias: str | None = None) -> str:
    """`table AS alias`, or only its rows written since `since` (a subquery, same alias)."""
    name = alias or table
    if since is None:
        return f"{table} {name}"
    return f"(SELECT * FROM {table} WHERE loaded_at >= $since) {name}"


def _params(since: datetime | None, **more: object) -> dict:
    return {**({"since": since} if since is not None else {}), **more}


def check_null_keys(con: duckdb.DuckDBPyConnection, since: datetime | None = None) -> CheckResult:
    posts, mentions, rejects = (_new_rows(t, since) for t in ("posts", "mentions", "rejects"))
    p = _params(since)
    counts = {
        "posts.post_id": _one(con, f"SELECT count(*) FROM {posts} WHERE post_id IS NULL", p),
        "posts.source": _one(con, f"SELECT count(*) FROM {posts} WHERE source IS NULL", p),
        "mentions.mention_id": _one(
            con, f"SELECT count(*) FROM {mentions} WHERE mention_id IS NULL", p
        ),
        "mentions.post_id": _one(con, f"SELECT count(*) FROM {mentions} WHERE post_id IS NULL", p),
        "rejects.reject_id": _one(
            con, f"SELECT count(*) FROM {rejects} WHERE reject_id IS NULL", p
        ),
    }
    bad = {k: v for k, v in counts.items() if v}
    return CheckResult("no_null_keys", not bad, f"null keys: {bad}" if bad else "no null keys")


def check_mentions_have_posts(
    con: duckdb.DuckDBPyConnection, since: datetime | None = None
) -> CheckResult:
    orphans = _one(
        con,
        f"SELECT count(*) FROM {_new_rows('mentions', since, 'm')} WHERE NOT EXISTS "
        "(SELECT 1 FROM posts p WHERE p.post_id = m.post_id)",
        _params(since),
    )
    return CheckResult(
        "mentions_have_posts",
        orphans == 0,
        f"{orphans} mentions whose post_id is not in posts" if orphans else "all mentions joined",
    )


def check_unique_keys(con: duckdb.DuckDBPyConnection, since: datetime | None = None) -> CheckResult:
    """posts.post_id and mentions.mention_id are unique (they carry no PRIMARY KEY index, see
    migration 0008): with `since`, the keys of the rows written since then, else all keys."""
    counts = {}
    for table, key in (("posts", "post_id"), ("mentions", "mention_id")):
        if since is None:
            sql = f"SELECT count(*) - count(DISTINCT {key}) FROM {table}"
        else:
            sql = (
                f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT {key}, count(*) AS n FROM {table} "
                f"WHERE {key} IN (SELECT {key} FROM {table} WHERE loaded_at >= $since) "
                f"GROUP BY {key} HAVING count(*) > 1)"
            )
        counts[f"{table}.{key}"] = int(_one(con, sql, _params(since)) or 0)
    bad = {k: v for k, v in counts.items() if v}
    detail = f"duplicate keys: {bad}" if bad else "keys unique"
    return CheckResult("unique_keys", not bad, detail)


def check_polarity_values(
    con: duckdb.DuckDBPyConnection, since: datetime | None = None
) -> CheckResult:
    allowed = list(POLARITIES)
    bad_posts = _one(
        con,
        f"SELECT count(*) FROM {_new_rows('posts', since)} "
        "WHERE sentiment IS NOT NULL AND NOT list_contains($allowed, sentiment)",
        _params(since, allowed=allowed),
    )
    bad_mentions = _one(
        con,
        f"SELECT count(*) FROM {_new_rows('mentions', since)} "
        "WHERE polarity IS NULL OR NOT list_contains($allowed, polarity)",
        _params(since, allowed=allowed),
    )
    ok = not bad_posts and not bad_mentions
    detail = f"{bad_posts} posts.sentiment and {bad_mentions} mentions.polarity outside {allowed}"
    return CheckResult("polarity_values", ok, detail)


def check_sentiment_shares(
    con: duckdb.DuckDBPyConnection,
    max_share: float = MAX_POLARITY_SHARE,
    min_posts: int = MIN_POSTS_FOR_SHARES,
) -> CheckResult:
    rows = con.execute(
        "SELECT sentiment, count(*) FROM posts WHERE sentiment IS NOT NULL GROUP BY ALL"
    ).fetchall()
    total = sum(n for _, n in rows)
    if total <= min_posts:
        return CheckResult(
            "sentiment_shares", True, f"only {total} posts with sentiment; not checked"
        )
    shares = {s: n / total for s, n in rows}
    bad = {s: round(v, 4) for s, v in shares.items() if not 0 <= v <= max_share}
    detail = ", ".join(f"{s}={v:.3f}" for s, v in sorted(shares.items()))
    if bad:
        detail = f"share above {max_share} for {bad} of {total} posts ({detail})"
    return CheckResult("sentiment_shares", not bad, detail)


def check_duplicate_share(
    con: duckdb.DuckDBPyConnection,
    max_share: float | None = None,
    min_posts: int = MIN_POSTS_FOR_SHARES,
) -> CheckResult:
    """Warning: the days (of `min_posts` posts or more) whose duplicates (`dup_of` set, left
    out of every number; v_exclusions) exceed `max_share` of their posts."""
    limit = max_duplicate_share() if max_share is None else max_share
    rows = con.execute(
        "SELECT CAST(timezone('UTC', created_at) AS DATE)::VARCHAR AS day, count(*) AS n, "
        "count(dup_of) AS d FROM posts WHERE created_at IS NOT NULL GROUP BY day "
        "HAVING count(*) >= ? AND count(dup_of) > ? * count(*) ORDER BY d / n DESC, day",
        [min_posts, limit],
    ).fetchall()
    if not rows:
        return CheckResult(
            "duplicate_share", True, f"no day over {limit:.0%} duplicates", required=False
        )
    worst = ", ".join(f"{day} {d / n:.1%} ({d:,} of {n:,})" for day, n, d in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    detail = f"{len(rows)} day(s) over {limit:.0%} duplicates: {worst}{more}"
    return CheckResult("duplicate_share", False, detail, required=False)


def check_row_counts(con: duckdb.DuckDBPyConnection, raw_rows: int) -> CheckResult:
    """raw rows == posts + rejected (stages after raw) + duplicates (latest load of each
    mentions partition, `runs.rows_duplicate`)."""
    posts = _one(con, "SELECT count(*) FROM posts")
    rejected = _one(
        con,
        "SELECT count(*) FROM rejects WHERE NOT list_contains(?, stage)",
        [list(PRE_RAW_STAGES)],
    )
    duplicate = _one(
        con,
        """
        SELECT coalesce(sum(r.rows_duplicate), 0)
        FROM loaded_partitions lp JOIN runs r USING (run_id)
        WHERE lp.kind = 'mentions'
        """,
    )
    total = posts + rejected + duplicate
    detail = f"raw={raw_rows} vs posts={posts} + rejected={rejected} + duplicate={duplicate}"
    return CheckResult("row_count_reconciliation", total == raw_rows, f"{detail} = {total}")


def check_freshness(
    con: duckdb.DuckDBPyConnection,
    max_age_days: float,
    required: bool = False,
    now: datetime | None = None,
) -> CheckResult:
    newest = _one(con, "SELECT epoch_us(max(created_at)) FROM posts")
    if newest is None:
        return CheckResult("freshness", False, "no posts", required)
    now = now or datetime.now(UTC)
    newest_dt = datetime.fromtimestamp(newest / 1e6, tz=UTC)
    age = now - newest_dt
    ok = age <= timedelta(days=max_age_days)
    detail = f"newest post {newest_dt.isoformat()} is {age.days} days old (max {max_age_days})"
    return CheckResult("freshness", ok, detail, required)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    raw_rows: int | None = None,
    *,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    freshness_required: bool = False,
    raise_on_failure: bool = True,
    since: datetime | None = None,
) -> list[CheckResult]:
    """Run every check. `raw_rows` (rows in the raw lake) turns on the reconciliation;
    `max_age_days=None` turns freshness off, `freshness_required=True` makes it blocking.
    `since`: the row checks (null keys, unique keys, orphans, polarity values) read only the
    rows written (`loaded_at`) since then: the publish passes the time of the last checks that
    passed, so their cost follows the change. The share and reconciliation checks read every row.
    Raises `QualityError` when a required check fails (unless `raise_on_failure=False`)."""
    results = [
        check_null_keys(con, since),
        check_unique_keys(con, since),
        check_mentions_have_posts(con, since),
        check_polarity_values(con, since),
        check_sentiment_shares(con),
        check_duplicate_share(con),
    ]
    if raw_rows is not None:
        results.append(check_row_counts(con, raw_rows))
    if max_age_days is not None:
        results.append(check_freshness(con, max_age_days, required=freshness_required))
    for r in results:
        if not r.required and not r.passed:
            log.warning("quality warning: %s: %s", r.name, r.detail)
    if raise_on_failure and any(r.required and not r.passed for r in results):
        raise QualityError(results)
    return results
