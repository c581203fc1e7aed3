"""The manager's pages added in issue 26: the alert history (`/alerts`) and the drivers of the
rating (`/drivers`). Their queries live here so `app.py` only routes them; both read the
published snapshot with bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from opinion.serve import history
from opinion.serve.filters import Filters

PAGES = (
    ("alerts", "/alerts", "Alerts"),
    ("drivers", "/drivers", "Drivers"),
)
NAMES = frozenset(name for name, _, _ in PAGES)


@dataclass
class Driver:
    """One category's association with the review rating (`rating_drivers`): the slope of the
    rating (0–100) on the review's net sentiment about the category (−1…+1), its 95 %
    interval, n reviews and the reviews with an opinion about it."""

    touchpoint: str | None
    category: str
    n: int
    opinions: int
    slope: float | None
    low: float | None
    high: float | None
    r2: float | None
    sufficient: bool

    @property
    def beyond(self) -> bool:
        """The interval excludes 0: the category moves the rating beyond chance."""
        return self.sufficient and self.low is not None and (self.low > 0 or self.high < 0)


def drivers(cur, f: Filters) -> list[Driver]:
    """The brand's categories by their association with the rating in the period, strongest
    first; those under the minimum sample (opinions) last, without a slope."""
    if not f.brand or f.start is None:
        return []
    try:
        rows = cur.execute(
            """
            SELECT touchpoint, category, n, opinions, slope, slope_low, slope_high, r2,
                   sufficient
            FROM rating_drivers($start, $end)
            WHERE brand = $brand AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
              AND ($category IS NULL OR category = $category)
            ORDER BY sufficient DESC, slope DESC NULLS LAST, opinions DESC, category
            """,
            {"brand": f.brand, "start": f.start, "end": f.end, "touchpoint": f.touchpoint,
             "category": f.category},
        ).fetchall()  # fmt: skip
    except duckdb.CatalogException:  # a warehouse from before migration 0012
        return []
    return [Driver(*r[:8], bool(r[8])) for r in rows]


def context(cur, page: str, f: Filters, verb) -> dict:
    """What the alert history or drivers page shows."""
    if page == "alerts":
        rows = history.alert_history(cur, f)
        links = [
            verb(touchpoint=a.touchpoint, category=a.category, polarity="negative",
                 since=a.since, until=a.until, days=None, start=None, end=None)
            for a in rows
        ]  # fmt: skip
        return {"history": list(zip(rows, links, strict=True))}
    return {"drivers": drivers(cur, f)}
