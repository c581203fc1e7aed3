"""Scores of a brand in the period: the overview's scorecard by touchpoint (with the change vs
the previous period), the map's categories and aspects (importance × satisfaction), the
drill-down on every page, and the `Score` that the competitors page reuses.

The aggregate views (`v_brand_scorecard`, ...) cover the whole loaded period; a dashboard
period is applied by summing `agg_daily` between bound date parameters and recomputing the
ratios here, with the same formulas as the views (docs/warehouse.md):

* net sentiment = 100 × (positive − negative) / mentions
* opinion score = positive / (positive + negative), with a Wilson 95 % interval
* importance = the category's share of the brand's mentions (in the period / touchpoint)

No value from a request is ever formatted into SQL text: every query below is a constant
string and filters are bound with `?`.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _replace
from datetime import date, timedelta

from opinion.insights.stats import (
    comparable,
    net_change,
    net_sentiment,
    score_sufficient,
    signed,
    sufficient,
    wilson,
)
from opinion.serve.catalog import DEFAULT_MIN_MENTIONS
from opinion.serve.filters import Filters

TREND_POINTS = 5.0  # net-sentiment change (points) that counts as up / down


@dataclass
class Score:
    """One cell of a scorecard: counts and the derived ratios."""

    label: str
    mentions: int
    positive: int
    negative: int
    neutral: int
    trend: float | None = None  # change in net sentiment, second half − first half
    importance: float | None = None
    min_mentions: int = DEFAULT_MIN_MENTIONS
    brand: str | None = None
    touchpoint: str | None = None
    category: str | None = None
    previous: Score | None = None  # the same scope in the period just before
    trend_z: float | None = None  # z of the within-period change (second half − first half)
    partial: str | None = None  # why the previous period is not compared (too few days)

    @property
    def change(self) -> tuple[float | None, float | None, bool]:
        """(net-sentiment change vs the previous period, z, beyond chance)."""
        if self.previous is None:
            return None, None, False
        p = self.previous
        return net_change(
            (self.positive, self.negative, self.mentions),
            (p.positive, p.negative, p.mentions),
            self.min_mentions,
        )

    @property
    def net(self) -> float | None:
        return net_sentiment(self.positive, self.negative, self.mentions)

    @property
    def opinions(self) -> int:
        return self.positive + self.negative

    @property
    def score_sufficient(self) -> bool:
        """The minimum-sample rule for the opinion score: on opinions (positive + negative),
        so 33 mentions with 18 opinions is not coloured, ranked or placed."""
        return score_sufficient(self.positive, self.negative, self.min_mentions)

    def _wilson(self, i: int) -> float | None:
        return wilson(self.positive, self.negative)[i]

    @property
    def score(self) -> float | None:
        return self._wilson(0)

    @property
    def low(self) -> float | None:
        return self._wilson(1)

    @property
    def high(self) -> float | None:
        return self._wilson(2)

    @property
    def sufficient(self) -> bool:
        """The minimum-sample rule (opinion.insights.stats.sufficient)."""
        return sufficient(self.mentions, self.min_mentions)

    @property
    def trend_beyond(self) -> bool:
        """The within-period change is beyond chance (|z| >= 1.96) and at least TREND_POINTS."""
        return (
            self.trend is not None
            and self.trend_z is not None
            and abs(self.trend_z) >= 1.959963984540054
            and abs(self.trend) >= TREND_POINTS
        )

    @property
    def arrow(self) -> str:
        if self.trend is None:
            return "–"
        if not self.trend_beyond:
            return "▶"
        return "▲" if self.trend > 0 else "▼"

    @property
    def trend_word(self) -> str:
        if self.trend is None:
            return "not enough data for a trend"
        pts = f"{signed(self.trend)} pts"
        if self.trend_beyond:
            word = "improving" if self.trend > 0 else "worsening"
            return f"{word} ({pts}, z {self.trend_z:+.1f}, beyond chance)"
        return f"no change beyond chance ({pts})"


def _mid(start: date, end: date) -> date:
    return start + timedelta(days=((end - start).days + 1) // 2)


def _trend(minimum: int, m1, p1, n1, m2, p2, n2) -> tuple[float | None, float | None]:
    """(second half − first half of the period in net sentiment, its z)."""
    delta, z, _ = net_change((p2 or 0, n2 or 0, m2 or 0), (p1 or 0, n1 or 0, m1 or 0), minimum)
    return delta, z


_SCORE_SQL = """
SELECT {key} AS label,
       sum(mentions)::BIGINT, sum(positive)::BIGINT, sum(negative)::BIGINT, sum(neutral)::BIGINT,
       sum(mentions) FILTER (WHERE day < $mid)::BIGINT,
       sum(positive) FILTER (WHERE day < $mid)::BIGINT,
       sum(negative) FILTER (WHERE day < $mid)::BIGINT,
       sum(mentions) FILTER (WHERE day >= $mid)::BIGINT,
       sum(positive) FILTER (WHERE day >= $mid)::BIGINT,
       sum(negative) FILTER (WHERE day >= $mid)::BIGINT
FROM agg_daily
WHERE brand = $brand AND day BETWEEN $start AND $end
  AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
  AND ($category IS NULL OR category = $category)
GROUP BY {group}
ORDER BY 2 DESC, 1
"""
# `key`/`group` are chosen from these constants, never from input
_SCORE_BY_TOUCHPOINT = _SCORE_SQL.format(key="touchpoint", group="touchpoint")
_SCORE_TOTAL = _SCORE_SQL.format(key="'All touchpoints'", group="ALL")
_SCORE_BY_CATEGORY = _SCORE_SQL.format(key="category", group="category")


def previous_period(f: Filters) -> tuple[date, date] | None:
    """The period of the same length just before the chosen one ("vs previous period")."""
    if f.start is None or f.end is None or f.end < f.start:
        return None
    length = (f.end - f.start).days + 1
    try:  # a period starting near year 1 has no period before it
        return f.start - timedelta(days=length), f.start - timedelta(days=1)
    except OverflowError:
        return None


def _scores(cur, sql: str, f: Filters, minimum: int, touchpoint=None, category=None, compare=True):
    brand, start, end = f.brand, f.start, f.end
    params = {
        "brand": brand,
        "start": start,
        "end": end,
        "mid": _mid(start, end),
        "touchpoint": touchpoint,
        "category": category,
    }
    out = []
    for r in cur.execute(sql, params).fetchall():
        if r[1] is None:
            continue
        trend, z = _trend(minimum, *r[5:])
        s = Score(r[0], r[1], r[2], r[3], r[4], trend=trend, min_mentions=minimum, brand=brand)
        s.trend_z = z
        out.append(s)
    prev = previous_period(f) if compare else None
    partial = _partial(cur, brand, (start, end), prev) if prev else None
    if partial:
        for s in out:
            s.partial = partial
    elif prev:
        before = {
            s.label: s
            for s in _scores(
                cur, sql, _replace(f, start=prev[0], end=prev[1]), minimum, touchpoint, category,
                compare=False,
            )
        }  # fmt: skip
        for s in out:
            s.previous = before.get(s.label) or Score(s.label, 0, 0, 0, 0, min_mentions=minimum)
    return out


def _partial(cur, brand, now: tuple[date, date], before: tuple[date, date]) -> str | None:
    """Why the previous period cannot be compared (fewer than 80 % of the days of data)."""
    days_now, days_before = cur.execute(
        "SELECT count(DISTINCT day) FILTER (WHERE day BETWEEN $a AND $b), "
        "count(DISTINCT day) FILTER (WHERE day BETWEEN $c AND $d) "
        "FROM agg_daily WHERE brand = $brand",
        {"brand": brand, "a": now[0], "b": now[1], "c": before[0], "d": before[1]},
    ).fetchone()
    return comparable(days_now, days_before)


def scorecard(cur, f: Filters, minimum: int) -> tuple[Score | None, list[Score]]:
    """(brand total, one Score per touchpoint) for the period (and category, when chosen),
    each with the previous period's Score for comparison."""
    if not f.brand or f.start is None:
        return None, []
    total = _scores(cur, _SCORE_TOTAL, f, minimum, f.touchpoint, f.category)
    rows = _scores(cur, _SCORE_BY_TOUCHPOINT, f, minimum, f.touchpoint, f.category)
    for r in rows:
        r.touchpoint = r.label
    return (total[0] if total else None), ranked(rows)


def ranked(rows: list[Score]) -> list[Score]:
    """Rows with enough mentions first (by mentions), then the rest: a number below the
    minimum sample is never ranked among the others."""
    return sorted(rows, key=lambda r: (not r.sufficient, -r.mentions, str(r.label)))


def categories(cur, f: Filters, minimum: int) -> list[Score]:
    """One Score per category (importance = share of the brand's mentions in the scope)."""
    if not f.brand or f.start is None:
        return []
    rows = _scores(cur, _SCORE_BY_CATEGORY, f, minimum, f.touchpoint, compare=False)
    total = sum(r.mentions for r in rows)
    for r in rows:
        r.category = r.label
        r.touchpoint = f.touchpoint
        r.importance = r.mentions / total if total else None
    return ranked(rows)


def aspects(cur, f: Filters, minimum: int, limit: int = 40) -> list[Score]:
    """One Score per aspect within the chosen category (the level below category)."""
    if not f.brand or f.start is None or not f.category:
        return []
    rows = cur.execute(
        """
        SELECT aspect, count(*)::BIGINT,
               count(*) FILTER (WHERE polarity = 'positive')::BIGINT,
               count(*) FILTER (WHERE polarity = 'negative')::BIGINT,
               count(*) FILTER (WHERE polarity = 'neutral')::BIGINT
        FROM verbatims
        WHERE brand = $brand AND day BETWEEN $start AND $end AND category = $category
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint) AND aspect IS NOT NULL
        GROUP BY aspect ORDER BY 2 DESC, 1 LIMIT $limit
        """,
        {"brand": f.brand, "start": f.start, "end": f.end, "category": f.category,
         "touchpoint": f.touchpoint, "limit": limit},
    ).fetchall()  # fmt: skip
    total = sum(r[1] for r in rows)
    out = []
    for a, m, p, n, u in rows:
        s = Score(a, m, p, n, u, min_mentions=minimum, brand=f.brand, category=f.category)
        s.importance = m / total if total else None
        out.append(s)
    return ranked(out)
