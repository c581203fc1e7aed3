"""The trends page's series: net sentiment per touchpoint per day, week, month, quarter or
year in the period,
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


# `$grain` is one of filters.GRAINS (whitelisted), bound as a parameter like every filter
_TREND_SQL = """
    SELECT touchpoint, CAST(date_trunc($grain, day) AS DATE) AS period_start,
           sum(mentions)::BIGINT, sum(positive)::BIGINT,
           sum(negative)::BIGINT, sum(neutral)::BIGINT
    FROM agg_daily
    WHERE brand = $brand AND day BETWEEN $start AND $end
      AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
      AND ($category IS NULL OR category = $category)
    GROUP BY ALL ORDER BY touchpoint, period_start
"""


def trends(cur, f: Filters) -> dict[str, list[Point]]:
    """Net sentiment per touchpoint per day, week, month, quarter or year (`f.grain`)."""
    if not f.brand or f.start is None:
        return {}
    rows = cur.execute(
        _TREND_SQL,
        {
            "grain": f.grain,
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
