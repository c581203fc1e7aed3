"""Review indices for a dashboard period: what the `_review_indices.html` partial shows.

Reads the warehouse table macro `review_indices(d0, d1)` (migration 0004; formulas in
docs/warehouse.md, "Review indices"), so the page and the views compute NPS, CSI and the share
recommending the same way. The period and brand are bound with `?`, never formatted into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from opinion.serve.filters import Filters

_SQL = """
SELECT touchpoint, ratings, promoters, passives, detractors, nps, nps_low, nps_high,
       csi, csi_low, csi_high, recommendations, share_recommending, recommending_low,
       recommending_high, sufficient, recommending_sufficient
FROM review_indices(CAST(? AS DATE), CAST(? AS DATE))
WHERE brand = ?
ORDER BY touchpoint <> 'all', ratings DESC, touchpoint
"""
# Whether the brand has a rated review in the period at all: a brand without reviews (tweets
# only) skips the macro, whose result would be empty anyway.
_ANY = """
SELECT count(*) FROM (
    SELECT 1 FROM v_review_ratings
    WHERE brand = ? AND day BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
      AND rating_norm IS NOT NULL
    LIMIT 1
)
"""


@dataclass(frozen=True)
class ReviewIndex:
    """NPS-style index, CSI and share recommending of one brand × touchpoint ('all')."""

    touchpoint: str
    ratings: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    nps_low: float | None
    nps_high: float | None
    csi: float | None
    csi_low: float | None
    csi_high: float | None
    recommendations: int
    share_recommending: float | None
    recommending_low: float | None
    recommending_high: float | None
    sufficient: bool
    recommending_sufficient: bool


def review_indices(cur, f: Filters) -> list[ReviewIndex]:
    """The brand's review indices in the period: the 'all' row first, then per touchpoint.
    Empty when the brand has no rated review there, or the warehouse predates reviews."""
    if not f.brand or f.start is None or f.end is None:
        return []
    try:
        if not cur.execute(_ANY, [f.brand, f.start, f.end]).fetchone()[0]:
            return []
        rows = cur.execute(_SQL, [f.start, f.end, f.brand]).fetchall()
    except duckdb.CatalogException:  # a snapshot from before migration 0004
        return []
    out = [ReviewIndex(*r) for r in rows]
    return out if out and out[0].touchpoint == "all" and out[0].ratings else []
