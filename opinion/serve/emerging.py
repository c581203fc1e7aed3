"""Emerging-issue alerts (`v_emerging_issues`, computed at load time by
`opinion.insights.issues`) whose window overlaps the period: the overview's alert list and the
trends page's markers. Read with bound parameters only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from opinion.serve.filters import Filters


@dataclass
class Alert:
    brand: str
    touchpoint: str
    category: str | None
    window_start: date
    window_end: date
    negatives: int
    baseline_mean: float
    z_score: float
    p_value: float | None
    severity: int | None  # 1..10, one step per factor 100 of improbability
    persistence: int | None
    since: datetime | None = None  # the exact window (exclusive start, inclusive end)
    until: datetime | None = None

    @property
    def level(self) -> str:
        """high / medium / low, for colour: severity >= 4 (p < 1e-6), >= 2 (p < 1e-2), else."""
        s = self.severity or 0
        return "high" if s >= 4 else "medium" if s >= 2 else "low"

    @property
    def window(self) -> str:
        return (
            f"{self.since:%Y-%m-%d %H:%M} – {self.until:%Y-%m-%d %H:%M} UTC"
            if self.since and self.until
            else f"{self.window_start} – {self.window_end}"
        )


def alerts(cur, f: Filters) -> list[Alert]:
    """Emerging issues of the brand whose window overlaps the period."""
    if not f.brand or f.start is None:
        return []
    rows = cur.execute(
        """
        WITH a AS (
            SELECT *, CAST(timezone('UTC', window_start) AS DATE) AS d0,
                   CAST(timezone('UTC', window_end) AS DATE) AS d1
            FROM v_emerging_issues
        )
        SELECT brand, touchpoint, category, d0, d1, negatives, baseline_mean, z_score,
               p_value, TRY_CAST(severity AS INTEGER), persistence,
               timezone('UTC', window_start), timezone('UTC', window_end)
        FROM a
        WHERE brand = $brand AND d1 >= $start AND d0 <= $end
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
          AND ($category IS NULL OR category = $category)
        ORDER BY severity DESC NULLS LAST, z_score DESC
        LIMIT 200
        """,
        {
            "brand": f.brand,
            "start": f.start,
            "end": f.end,
            "touchpoint": f.touchpoint,
            "category": f.category,
        },  # fmt: skip
    ).fetchall()
    return alerts_of(rows)


def alerts_of(rows) -> list[Alert]:
    """`Alert`s of query rows: the 11 alert columns, then since and until (read as UTC)."""
    out = []
    for r in rows:
        a = Alert(*r[:11])
        a.since, a.until = (_utc(v) for v in r[11:13])
        out.append(a)
    return out


def _utc(value):
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
