"""The trends page's series: net sentiment per touchpoint per day or week in the period,
summed from `agg_daily` with bound parameters (the alert markers come from `emerging`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from opinion.insights.stats import net_sentiment
from opinion.serve.filters import Filters


@dataclass
class Point:
    period_start: date
    mentions: int
    positive: int
    negative: int
    neutral: int

    @property
    def net(self) -> float | None:
        return net_sentiment(self.positive, self.negative, self.mentions)


_TREND_SQL = {
    "day": """
        SELECT touchpoint, day AS period_start, sum(mentions)::BIGINT, sum(positive)::BIGINT,
               sum(negative)::BIGINT, sum(neutral)::BIGINT
        FROM agg_daily
        WHERE brand = $brand AND day BETWEEN $start AND $end
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
          AND ($category IS NULL OR category = $category)
        GROUP BY ALL ORDER BY touchpoint, period_start
    """,
    "week": """
        SELECT touchpoint, CAST(date_trunc('week', day) AS DATE) AS period_start,
               sum(mentions)::BIGINT, sum(positive)::BIGINT,
               sum(negative)::BIGINT, sum(neutral)::BIGINT
        FROM agg_daily
        WHERE brand = $brand AND day BETWEEN $start AND $end
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
          AND ($category IS NULL OR category = $category)
        GROUP BY ALL ORDER BY touchpoint, period_start
    """,
}


def trends(cur, f: Filters) -> dict[str, list[Point]]:
    """Net sentiment per touchpoint per day or week (`f.grain`), in the period."""
    if not f.brand or f.start is None:
        return {}
    rows = cur.execute(
        _TREND_SQL[f.grain],
        {
            "brand": f.brand,
            "start": f.start,
            "end": f.end,
            "touchpoint": f.touchpoint,
            "category": f.category,
        },  # fmt: skip
    ).fetchall()
    out: dict[str, list[Point]] = {}
    for tp, ps, m, p, n, u in rows:
        out.setdefault(tp, []).append(Point(ps, m, p, n, u))
    return out
