"""Review attributes as filters on every page (issue 26): cabin, traveller type, route and
verified (posts columns, migration 0014).

The pages read `agg_daily` and `verbatims`, which have no attribute columns. When an attribute
filter is set, `narrow` shadows both, for this request's cursor only, with TEMP tables of the
same columns computed from the eligible mentions of the matching posts (the loader's own
eligibility rule, `opinion.insights.eligible.ELIGIBLE`). Every page query then runs unchanged
and every number, chart and export follows the filter. Values are bound, never formatted.
"""

from __future__ import annotations

import duckdb

from opinion.insights.eligible import ELIGIBLE
from opinion.warehouse.aggregates import agg_daily_query

ATTRIBUTES = ("cabin", "traveller_type", "route", "verified")
SELECTS = ("cabin", "traveller_type")  # chosen from the values present (whitelisted)
MAX_VALUES = 50  # distinct values offered per attribute

_MATCH = """
    ($cabin IS NULL OR p.cabin = $cabin)
    AND ($traveller_type IS NULL OR p.traveller_type = $traveller_type)
    AND ($route IS NULL OR contains(lower(p.route), lower($route)))
    AND ($verified IS NULL OR p.verified = $verified)
"""
_AGG = "CREATE OR REPLACE TEMP TABLE agg_daily AS\n" + agg_daily_query(
    f"{ELIGIBLE} AND {_MATCH}", "(SELECT min_mentions FROM v_min_mentions)"
)
_VERBATIMS = f"""
CREATE OR REPLACE TEMP TABLE verbatims AS
SELECT v.* FROM wh.main.verbatims v
WHERE v.post_id IN (SELECT p.post_id FROM wh.main.posts p WHERE {_MATCH})
ORDER BY v.brand, v.day
"""


def values(cur) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(attribute, the values present) for the selects; empty on a warehouse without them."""
    out = []
    for name in SELECTS:
        try:
            rows = cur.execute(
                f"SELECT DISTINCT {name} FROM posts WHERE {name} IS NOT NULL "  # name: constant
                f"ORDER BY 1 LIMIT {MAX_VALUES}"
            ).fetchall()
        except duckdb.Error:  # before migration 0014
            return ()
        if rows:
            out.append((name, tuple(r[0] for r in rows)))
    try:
        has = cur.execute(
            "SELECT count(*) FILTER (WHERE route IS NOT NULL) > 0, "
            "count(*) FILTER (WHERE verified IS NOT NULL) > 0 FROM posts"
        ).fetchone()
    except duckdb.Error:
        return tuple(out)
    if has[0]:
        out.append(("route", ()))
    if has[1]:
        out.append(("verified", ("yes", "no")))
    return tuple(out)


def active(f) -> bool:
    return any(getattr(f, name) is not None for name in ATTRIBUTES)


def narrow(cur, f) -> None:
    """Shadow `agg_daily` and `verbatims` on this cursor with the posts matching the
    attribute filters (nothing to do without one)."""
    if not active(f):
        return
    params = {
        "cabin": f.cabin,
        "traveller_type": f.traveller_type,
        "route": f.route,
        "verified": None if f.verified is None else f.verified == "yes",
    }
    cur.execute(_AGG, params)
    cur.execute(_VERBATIMS, params)
