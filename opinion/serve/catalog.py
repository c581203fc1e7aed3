"""What the warehouse holds, shown on every page: the filter form's choices (brands,
touchpoints, categories, loaded days), the minimum sample and the data-freshness line.

Read once per published snapshot (the app caches it) and by the report. The lowest of the
page-query modules (catalog, scorecard, competitors, trends, emerging, verbatims): the others
import its `DEFAULT_MIN_MENTIONS`, it imports none of them. Like all of them, it binds every
value with a parameter and never formats one into SQL text.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from opinion.insights.stats import MIN_MENTIONS
from opinion.serve import attributes
from opinion.serve.filters import Catalog

DEFAULT_MIN_MENTIONS = MIN_MENTIONS  # when the warehouse has no v_min_mentions


def catalog(cur) -> Catalog:
    row = cur.execute(
        """
        SELECT list(DISTINCT brand ORDER BY brand) FILTER (WHERE brand IS NOT NULL),
               list(DISTINCT touchpoint ORDER BY touchpoint) FILTER (WHERE touchpoint IS NOT NULL),
               list(DISTINCT category ORDER BY category) FILTER (WHERE category IS NOT NULL),
               min(day), max(day),
               list(DISTINCT [touchpoint, category]) FILTER (WHERE category IS NOT NULL)
        FROM agg_daily
        """
    ).fetchone()
    try:
        minimum = cur.execute("SELECT min_mentions FROM v_min_mentions").fetchone()[0]
    except duckdb.Error:
        minimum = DEFAULT_MIN_MENTIONS
    return Catalog(
        tuple(row[0] or ()),
        tuple(row[1] or ()),
        tuple(row[2] or ()),
        row[3],
        row[4],
        int(minimum or DEFAULT_MIN_MENTIONS),
        tuple(sorted((t, c) for t, c in (row[5] or ()))),
        *freshness(cur),
        left_out=left_out(cur),
        busiest=cur.execute(
            "SELECT brand FROM agg_daily WHERE brand IS NOT NULL "
            "GROUP BY brand ORDER BY sum(mentions) DESC, brand LIMIT 1"
        ).fetchone()[0]
        if row[0]
        else None,
        attributes=attributes.values(cur),
    )


#: The rows of v_exclusions behind the freshness line's "posts left out" link.
EXCLUSION_COLUMNS = ("brand", "day", "reason", "posts", "mentions")


#: How the freshness line names each v_exclusions reason ("1,172 posts left out: ...").
REASON_LABELS = {
    "duplicate": "duplicates",
    "spam": "spam",
    "language": "not English",
    "no brand": "about no brand",
    "not analysed": "not analysed",
    "out-of-range date": "out-of-range dates",
    "rejected": "rejected records",
}


def left_out(cur) -> tuple[tuple[str, int], ...]:
    """(label, posts) that no number counts (v_exclusions), most first; () on a snapshot
    older than the view (migration 0013)."""
    try:
        rows = cur.execute(
            "SELECT reason, sum(posts)::BIGINT AS n FROM v_exclusions GROUP BY reason "
            "ORDER BY n DESC, reason"
        ).fetchall()
    except duckdb.Error:
        return ()
    return tuple((REASON_LABELS.get(r, r), int(n)) for r, n in rows)


def exclusion_rows(cur) -> list[tuple]:
    """Every v_exclusions row (brand x day x reason), for the CSV the freshness line links."""
    cols = ", ".join(EXCLUSION_COLUMNS)
    return cur.execute(
        f"SELECT {cols} FROM v_exclusions ORDER BY day NULLS LAST, brand NULLS LAST, reason"
    ).fetchall()


def freshness(cur) -> tuple[datetime | None, datetime | None]:
    """(newest eligible post, last load): the data-freshness line on every page."""
    newest = cur.execute(
        "SELECT max(created_at) FROM posts WHERE dup_of IS NULL AND brand IS NOT NULL "
        "AND coalesce(spam_score, 0) < 0.5"
    ).fetchone()[0]
    loads = []
    for sql in (
        "SELECT max(loaded_at) FROM posts",
        "SELECT max(loaded_at) FROM loaded_partitions",
    ):
        try:
            value = cur.execute(sql).fetchone()[0]
        except duckdb.Error:
            value = None
        if value is not None:
            loads.append(value)
    return newest, (max(loads) if loads else None)
