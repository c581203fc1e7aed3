"""The numbers behind every page: parameterised queries on the aggregate layer.

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

import math
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from opinion.serve.filters import Catalog, Filters

Z95 = 1.959963984540054
DEFAULT_MIN_MENTIONS = 30  # when the warehouse has no v_min_mentions
TREND_POINTS = 5.0  # net-sentiment change (points) that counts as up / down
VERBATIMS_PER_PAGE = 50


def wilson(positive: int, negative: int) -> tuple[float | None, float | None, float | None]:
    """(score, low, high): positive share of opinions with its Wilson 95 % interval."""
    n = positive + negative
    if n <= 0:
        return None, None, None
    p = positive / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def net_sentiment(positive: int, negative: int, mentions: int) -> float | None:
    return 100.0 * (positive - negative) / mentions if mentions else None


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
        return self.mentions >= self.min_mentions and (self.positive + self.negative) > 0

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


def catalog(cur) -> Catalog:
    row = cur.execute(
        """
        SELECT list(DISTINCT brand ORDER BY brand) FILTER (WHERE brand IS NOT NULL),
               list(DISTINCT touchpoint ORDER BY touchpoint) FILTER (WHERE touchpoint IS NOT NULL),
               list(DISTINCT category ORDER BY category) FILTER (WHERE category IS NOT NULL),
               min(day), max(day)
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
    )


def competitors(cur, brand: str, available: tuple[str, ...]) -> list[str]:
    """The brand's competitor set (`brand_competitors`), else every other loaded brand."""
    others = [b for b in available if b != brand]
    try:
        listed = cur.execute(
            "SELECT competitor FROM brand_competitors WHERE brand = ? ORDER BY competitor",
            [brand],
        ).fetchall()
    except duckdb.Error:
        return others
    return [c for (c,) in listed if c in available] or others


def _mid(start: date, end: date) -> date:
    return start + timedelta(days=((end - start).days + 1) // 2)


def _trend(minimum: int, m1, p1, n1, m2, p2, n2) -> float | None:
    if (m1 or 0) < minimum or (m2 or 0) < minimum:
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
GROUP BY {group}
ORDER BY 2 DESC, 1
"""
# `key`/`group` are chosen from these constants, never from input
_SCORE_BY_TOUCHPOINT = _SCORE_SQL.format(key="touchpoint", group="touchpoint")
_SCORE_TOTAL = _SCORE_SQL.format(key="'All touchpoints'", group="ALL")
_SCORE_BY_CATEGORY = _SCORE_SQL.format(key="category", group="category")


def _scores(cur, sql: str, f: Filters, minimum: int, touchpoint: str | None = None):
    brand, start, end = f.brand, f.start, f.end
    params = {
        "brand": brand,
        "start": start,
        "end": end,
        "mid": _mid(start, end),
        "touchpoint": touchpoint,
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
    return out


def scorecard(cur, f: Filters, minimum: int) -> tuple[Score | None, list[Score]]:
    """(brand total, one Score per touchpoint) for the period."""
    if not f.brand or f.start is None:
        return None, []
    total = _scores(cur, _SCORE_TOTAL, f, minimum)
    rows = _scores(cur, _SCORE_BY_TOUCHPOINT, f, minimum)
    for r in rows:
        r.touchpoint = r.label
    return (total[0] if total else None), rows


def categories(cur, f: Filters, minimum: int) -> list[Score]:
    """One Score per category (importance = share of the brand's mentions in the scope)."""
    if not f.brand or f.start is None:
        return []
    rows = _scores(cur, _SCORE_BY_CATEGORY, f, minimum, f.touchpoint)
    total = sum(r.mentions for r in rows)
    for r in rows:
        r.category = r.label
        r.touchpoint = f.touchpoint
        r.importance = r.mentions / total if total else None
    return rows


@dataclass
class Benchmark:
    touchpoint: str
    brand: Score | None
    competitors: list[Score]  # one per competitor brand
    pooled: Score | None  # the competitor set together

    @property
    def sufficient(self) -> bool:
        """Both the brand and the competitor set reach the minimum sample (as the view)."""
        return bool(self.brand and self.pooled and self.brand.sufficient and self.pooled.sufficient)

    @property
    def gap(self) -> float | None:
        """Brand net sentiment − competitor set net sentiment; None when insufficient."""
        if not self.sufficient:
            return None
        return self.brand.net - self.pooled.net

    @property
    def separated(self) -> bool:
        """The Wilson intervals of brand and competitor set do not overlap."""
        if not self.sufficient:
            return False
        b, c = self.brand, self.pooled
        return b.low > c.high or c.low > b.high


def benchmark(cur, f: Filters, competitors: list[str], minimum: int) -> list[Benchmark]:
    if not f.brand or f.start is None:
        return []
    rows = cur.execute(
        """
        SELECT touchpoint, brand, sum(mentions)::BIGINT, sum(positive)::BIGINT,
               sum(negative)::BIGINT, sum(neutral)::BIGINT
        FROM agg_daily
        WHERE list_contains($brands, brand) AND day BETWEEN $start AND $end
        GROUP BY ALL ORDER BY touchpoint, brand
        """,
        {"brands": [f.brand, *competitors], "start": f.start, "end": f.end},
    ).fetchall()
    by_tp: dict[str, Benchmark] = {}
    for tp, brand, m, p, n, u in rows:
        bm = by_tp.setdefault(tp, Benchmark(tp, None, [], None))
        s = Score(brand, m, p, n, u, min_mentions=minimum, brand=brand, touchpoint=tp)
        if brand == f.brand:
            bm.brand = s
        else:
            bm.competitors.append(s)
    for bm in by_tp.values():
        if bm.competitors:
            bm.pooled = Score(
                "Competitor set",
                sum(c.mentions for c in bm.competitors),
                sum(c.positive for c in bm.competitors),
                sum(c.negative for c in bm.competitors),
                sum(c.neutral for c in bm.competitors),
                min_mentions=minimum,
                touchpoint=bm.touchpoint,
            )
    order = sorted(by_tp.values(), key=lambda b: -(b.brand.mentions if b.brand else 0))
    return order


def share_of_voice(cur, f: Filters, brands: list[str]) -> list[tuple[str, int, float]]:
    """(brand, mentions, share) across the brand and its competitors, in the period."""
    if not f.brand or f.start is None:
        return []
    rows = cur.execute(
        """
        SELECT brand, sum(mentions)::BIGINT AS n, sum(mentions) / sum(sum(mentions)) OVER ()
        FROM agg_daily
        WHERE list_contains($brands, brand) AND day BETWEEN $start AND $end
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
        GROUP BY brand ORDER BY n DESC, brand
        """,
        {"brands": [f.brand, *brands], "start": f.start, "end": f.end, "touchpoint": f.touchpoint},
    ).fetchall()
    return [(b, n, float(s)) for b, n, s in rows]


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
        GROUP BY ALL ORDER BY touchpoint, period_start
    """,
    "week": """
        SELECT touchpoint, CAST(date_trunc('week', day) AS DATE) AS period_start,
               sum(mentions)::BIGINT, sum(positive)::BIGINT,
               sum(negative)::BIGINT, sum(neutral)::BIGINT
        FROM agg_daily
        WHERE brand = $brand AND day BETWEEN $start AND $end
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
        GROUP BY ALL ORDER BY touchpoint, period_start
    """,
}


def trends(cur, f: Filters) -> dict[str, list[Point]]:
    """Net sentiment per touchpoint per day or week (`f.grain`), in the period."""
    if not f.brand or f.start is None:
        return {}
    rows = cur.execute(
        _TREND_SQL[f.grain],
        {"brand": f.brand, "start": f.start, "end": f.end, "touchpoint": f.touchpoint},
    ).fetchall()
    out: dict[str, list[Point]] = {}
    for tp, ps, m, p, n, u in rows:
        out.setdefault(tp, []).append(Point(ps, m, p, n, u))
    return out


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

    @property
    def level(self) -> str:
        """high / medium / low, for colour: severity >= 4 (p < 1e-6), >= 2 (p < 1e-2), else."""
        s = self.severity or 0
        return "high" if s >= 4 else "medium" if s >= 2 else "low"


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
               p_value, TRY_CAST(severity AS INTEGER), persistence
        FROM a
        WHERE brand = $brand AND d1 >= $start AND d0 <= $end
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
        ORDER BY severity DESC NULLS LAST, z_score DESC
        LIMIT 200
        """,
        {"brand": f.brand, "start": f.start, "end": f.end, "touchpoint": f.touchpoint},
    ).fetchall()
    return [Alert(*r) for r in rows]


@dataclass
class Verbatim:
    mention_id: str
    source: str
    brand: str
    touchpoint: str | None
    category: str | None
    aspect: str | None
    term: str | None
    start: int | None
    end: int | None
    polarity: str | None
    confidence: float | None
    text: str
    url: str | None
    created: str

    def parts(self) -> tuple[str, str, str]:
        """(before, span, after) of the text around the aspect; no span if offsets are off."""
        text, s, e = self.text or "", self.start, self.end
        if s is None or e is None or not (0 <= s <= e <= len(text)):
            return text, "", ""
        return text[:s], text[s:e], text[e:]

    @property
    def safe_url(self) -> str | None:
        u = self.url or ""
        return u if u.startswith(("https://", "http://")) else None


_VERBATIM_WHERE = """
FROM v_verbatims
WHERE brand = $brand AND day BETWEEN $start AND $end
  AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
  AND ($category IS NULL OR category = $category)
  AND ($polarity IS NULL OR polarity = $polarity)
"""


def verbatims(cur, f: Filters, limit: int = VERBATIMS_PER_PAGE) -> tuple[int, list[Verbatim]]:
    """(total matching, one page of verbatims), newest first."""
    if not f.brand or f.start is None or f.unknown:
        return 0, []
    params = {
        "brand": f.brand,
        "start": f.start,
        "end": f.end,
        "touchpoint": f.touchpoint,
        "category": f.category,
        "polarity": f.polarity,
    }
    total = cur.execute("SELECT count(*) " + _VERBATIM_WHERE, params).fetchone()[0]
    rows = cur.execute(
        """
        SELECT mention_id, source, brand, touchpoint, category, aspect, term, start, "end",
               polarity, confidence, text, url,
               strftime(timezone('UTC', created_at), '%Y-%m-%d %H:%M UTC')
        """
        + _VERBATIM_WHERE
        + """
        ORDER BY created_at DESC, mention_id
        LIMIT $limit OFFSET $offset
        """,
        {**params, "limit": limit, "offset": (f.page - 1) * limit},
    ).fetchall()
    return total, [Verbatim(*r) for r in rows]


def top_verbatims(cur, f: Filters, polarity: str, limit: int = 5) -> list[Verbatim]:
    """The newest verbatims of one polarity (for the static report)."""
    from dataclasses import replace

    _, rows = verbatims(cur, replace(f, polarity=polarity, page=1), limit=limit)
    return rows
