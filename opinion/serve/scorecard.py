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

from opinion.insights.stats import net_change, net_sentiment, sufficient, wilson
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
    def score(self) -> float | None:
        return wilson(self.positive, self.negative)[0]

    @property
    def low(self) -> float | None:
        return wilson(self.positive, self.negative)[1]

    @property
    def high(self) -> float | None:
        return wilson(self.positive, self.negative)[2]

    @property
    def sufficient(self) -> bool:
        """The minimum-sample rule (opinion.insights.stats.sufficient)."""
        return sufficient(self.mentions, self.min_mentions)

    @property
    def arrow(self) -> str:
        if self.trend is None:
            return "–"
        return "▲" if self.trend >= TREND_POINTS else "▼" if self.trend <= -TREND_POINTS else "▶"

    @property
    def trend_word(self) -> str:
        if self.trend is None:
            return "not enough data for a trend"
        if self.trend >= TREND_POINTS:
            return f"improving ({self.trend:+.0f} pts)"
        if self.trend <= -TREND_POINTS:
            return f"worsening ({self.trend:+.0f} pts)"
        return f"stable ({self.trend:+.0f} pts)"


def _mid(start: date, end: date) -> date:
    return start + timedelta(days=((end - start).days + 1) // 2)


def _trend(minimum: int, m1, p1, n1, m2, p2, n2) -> float | None:
    if not (sufficient(m1, minimum) and sufficient(m2, minimum)):
        return None
    return net_sentiment(p2, n2, m2) - net_sentiment(p1, n1, m1)


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
        out.append(
            Score(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                trend=_trend(minimum, *r[5:]),
                min_mentions=minimum,
                brand=brand,
            )
        )
    prev = previous_period(f) if compare else None
    if prev:
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
