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

from dataclasses import dataclass
from dataclasses import replace as _replace
from datetime import UTC, date, datetime, timedelta

import duckdb

from opinion.insights.stats import MIN_MENTIONS, net_change, net_sentiment, sufficient, wilson
from opinion.serve.filters import Catalog, Cursor, Filters
from opinion.warehouse.engagement import ENGAGEMENT_KEYS

DEFAULT_MIN_MENTIONS = MIN_MENTIONS  # when the warehouse has no v_min_mentions
TREND_POINTS = 5.0  # net-sentiment change (points) that counts as up / down
VERBATIMS_PER_PAGE = 50
EXPORT_LIMIT = 10_000  # posts in one CSV export
# re-exported: the one definition (opinion.insights.stats, opinion.warehouse.engagement)
__all__ = ["ENGAGEMENT_KEYS", "net_sentiment", "wilson"]


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
    )


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
    if f.start is None or f.end is None:
        return None
    length = (f.end - f.start).days + 1
    return f.start - timedelta(days=length), f.start - timedelta(days=1)


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
          AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
          AND ($category IS NULL OR category = $category)
        GROUP BY ALL ORDER BY touchpoint, brand
        """,
        {
            "brands": [f.brand, *competitors],
            "start": f.start,
            "end": f.end,
            "touchpoint": f.touchpoint,
            "category": f.category,
        },  # fmt: skip
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
    for bm in by_tp.values():  # enough mentions first; thin ones are never ranked by score
        bm.competitors = sorted(
            bm.competitors, key=lambda c: (not c.sufficient, -(c.score or 0) if c.sufficient else 0)
        )
    order = sorted(
        by_tp.values(),
        key=lambda b: (not b.sufficient, -(b.brand.mentions if b.brand else 0), b.touchpoint),
    )
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
          AND ($category IS NULL OR category = $category)
        GROUP BY brand ORDER BY n DESC, brand
        """,
        {
            "brands": [f.brand, *brands],
            "start": f.start,
            "end": f.end,
            "touchpoint": f.touchpoint,
            "category": f.category,
        },  # fmt: skip
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
    out = []
    for r in rows:
        a = Alert(*r[:11])
        a.since, a.until = (_utc(v) for v in r[11:13])
        out.append(a)
    return out


def _utc(value):
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass
class Mention:
    """One aspect mention inside a post, for highlighting."""

    mention_id: str
    aspect: str | None
    term: str | None
    start: int | None
    end: int | None
    polarity: str | None
    category: str | None
    touchpoint: str | None
    matched: bool  # this mention satisfies the page's filters (the others are context)


@dataclass
class Post:
    """One verbatim card: a post with all its aspect mentions."""

    post_id: str
    source: str
    brand: str
    text: str
    url: str | None
    created: str
    engagement: int
    mentions: list[Mention]

    @property
    def polarity(self) -> str:
        """The card's colour: the net of the polarities of the mentions that matched the
        filters (all of them without filters), per mention as everywhere."""
        hits = [m for m in self.mentions if m.matched] or self.mentions
        pos = sum(m.polarity == "positive" for m in hits)
        neg = sum(m.polarity == "negative" for m in hits)
        return "positive" if pos > neg else "negative" if neg > pos else "neutral"

    def parts(self) -> list[tuple[str, Mention | None]]:
        """The text cut into (piece, mention or None): every aspect span highlighted once;
        spans with bad or overlapping offsets are left out of the highlighting."""
        text = self.text or ""
        spans = sorted(
            (m for m in self.mentions
             if m.start is not None and m.end is not None and 0 <= m.start < m.end <= len(text)),
            key=lambda m: (m.start, -m.end),
        )  # fmt: skip
        out: list[tuple[str, Mention | None]] = []
        pos = 0
        for m in spans:
            if m.start < pos:
                continue  # overlaps the previous span
            if m.start > pos:
                out.append((text[pos : m.start], None))
            out.append((text[m.start : m.end], m))
            pos = m.end
        if pos < len(text):
            out.append((text[pos:], None))
        return out

    @property
    def safe_url(self) -> str | None:
        u = self.url or ""
        return u if u.startswith(("https://", "http://")) else None


# The verbatim queries read the `verbatims` table: the rows of `v_verbatims` (eligible mentions
# pre-joined with their post) materialised by the loader in (brand, day) order, so a brand and
# period is a few row groups instead of a join of all mentions to all posts on every request.
_POST_MATCH = """
    brand = $brand AND day BETWEEN $start AND $end
    AND ($since IS NULL OR created_at > $since) AND ($until IS NULL OR created_at <= $until)
    AND ($q IS NULL OR contains(lower(text), lower($q)))
"""  # conditions on the post: all mentions of a post pass or fail them together
_MENTION_MATCH = """
    ($touchpoint IS NULL OR touchpoint = $touchpoint)
    AND ($category IS NULL OR category = $category)
    AND ($aspect IS NULL OR aspect = $aspect)
    AND ($polarity IS NULL OR polarity = $polarity)
"""
_MATCH = f"{_POST_MATCH} AND {_MENTION_MATCH}"

# Newest first, read as a Top-N of matching mention rows in (created_at DESC, post_id) order:
# all rows of a post are adjacent in that order (same created_at, same post_id), so the first
# posts are the first distinct post_ids of the first rows; no GROUP BY over every match. A page
# after (before) a post is the rows strictly after (before) its (created_at, post_id): a keyset,
# whose `day` bound also lets the zone maps skip the row groups of later (earlier) days.
_NEWEST = {
    None: f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims WHERE {_MATCH}
        ORDER BY created_at DESC, post_id LIMIT $rows""",
    "after": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims
        WHERE {_MATCH} AND day <= $kday AND created_at <= $kts
          AND (created_at < $kts OR post_id > $kid)
        ORDER BY created_at DESC, post_id LIMIT $rows""",
    "before": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims
        WHERE {_MATCH} AND day >= $kday AND created_at >= $kts
          AND (created_at > $kts OR post_id < $kid)
        ORDER BY created_at, post_id DESC LIMIT $rows""",
}
# The other orders rank by the post's sort keys, which the loader stores on every row of the
# post (migration 0010): most negative = the post's net sentiment over all its mentions
# (`post_net`, ascending), then its negatives (`post_negatives`, descending); most engaged =
# `post_engagement`, descending; ties newest first. The keys are per post, so all rows of a
# post are adjacent in that order too and a page is the same Top-N of rows as newest first;
# pages are skipped posts (OFFSET), not a keyset: the Top-N reads skip + one page of posts.
_RANKED = {
    "negative": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims WHERE {_MATCH}
        ORDER BY post_net, post_negatives DESC, created_at DESC, post_id LIMIT $rows""",
    "engaged": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims WHERE {_MATCH}
        ORDER BY post_engagement DESC, created_at DESC, post_id LIMIT $rows""",
}
# The cards of one page: every mention of each post (the matching ones marked) and its
# engagement (stored on its rows). The page's (brand, days) bound the scan to a few row groups.
_CARDS = f"""
SELECT post_id, any_value(source), any_value(brand), any_value(text), any_value(url),
       strftime(timezone('UTC', any_value(created_at)), '%Y-%m-%d %H:%M UTC'),
       any_value(post_engagement),
       list(struct_pack(id := mention_id, aspect := aspect, term := term,
                        s := start, e := "end", polarity := polarity,
                        category := category, touchpoint := touchpoint)
            ORDER BY start, mention_id),
       list(mention_id ORDER BY mention_id) FILTER (WHERE {_MATCH})
FROM verbatims
WHERE brand = $brand AND day BETWEEN $d0 AND $d1 AND post_id IN (SELECT unnest($ids))
GROUP BY post_id
"""
_COUNTS = f"SELECT count(DISTINCT post_id), count(*) FROM verbatims WHERE {_MATCH}"


def _verbatim_params(f: Filters) -> dict:
    return {
        "brand": f.brand,
        "start": f.start,
        "end": f.end,
        "touchpoint": f.touchpoint,
        "category": f.category,
        "aspect": f.aspect,
        "polarity": f.polarity,
        "since": f.since,
        "until": f.until,
        "q": f.q,
    }


def _posts(rows) -> list[Post]:
    out = []
    for pid, source, brand, text, url, created, engagement, ms, matched in rows:
        hits = set(matched or ())
        mentions = [
            Mention(m["id"], m["aspect"], m["term"], m["s"], m["e"], m["polarity"],
                    m["category"], m["touchpoint"], m["id"] in hits)
            for m in ms
        ]  # fmt: skip
        out.append(Post(pid, source, brand, text, url, created, int(engagement or 0), mentions))
    return out


def verbatim_counts(cur, f: Filters) -> tuple[int, int]:
    """(posts, mentions) matching the filters."""
    if not f.brand or f.start is None or f.unknown:
        return 0, 0
    row = cur.execute(_COUNTS, _verbatim_params(f)).fetchone()
    return int(row[0]), int(row[1])


@dataclass
class VerbatimPage:
    """One page of verbatim cards and what the pager needs."""

    posts: list[Post]
    number: int = 1  # the page number shown (a keyset page carries it in its link)
    more: bool = False  # another page follows this one
    first: Cursor | None = None  # (created_at, post_id) of the first / last post: the keys
    last: Cursor | None = None  # of the previous / next page's link (newest sort)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _keys(rows) -> list[Cursor]:
    """(created_at, post_id) from (post_id, epoch µs) rows, first occurrence of each post, in
    order. Times come as integers: converting thousands of TIMESTAMPTZ values costs more than
    the query."""
    return [(_EPOCH + timedelta(microseconds=us), pid) for pid, us in dict.fromkeys(rows)]


def _first_posts(cur, sql: str, params: dict, skip: int, want: int) -> list[Cursor]:
    """(created_at, post_id) of posts skip+1 … skip+want of `sql`: a Top-N of `$rows` mention
    rows in an order where the rows of a post are adjacent, read further while posts with
    many mentions leave fewer than skip+want distinct posts in the rows read."""
    need = skip + want
    rows = 2 * need + 64  # mention rows: a post has a few mentions, rarely dozens
    while True:
        found = cur.execute(sql, {**params, "rows": rows}).fetchall()
        posts = list(dict.fromkeys(found))
        if len(posts) >= need or len(found) < rows:
            return _keys(posts[skip:need])
        rows *= 4  # posts with many mentions took the rows: read further


def _newest(cur, f: Filters, params: dict, skip: int, want: int) -> list[Cursor]:
    """(created_at, post_id) of posts skip+1 … skip+want, newest first (or, with `f.before`,
    the `want` posts just newer than it, oldest first)."""
    mode = "after" if f.after else "before" if f.before else None
    key = f.after or f.before
    if key is not None:
        params = {**params, "kts": key[0], "kday": key[0].astimezone(UTC).date(), "kid": key[1]}
    return _first_posts(cur, _NEWEST[mode], params, skip, want)


def verbatim_page(cur, f: Filters, limit: int = VERBATIMS_PER_PAGE) -> VerbatimPage:
    """One page of posts matching the filters: one card per post, never the same post twice.
    Newest first pages by keyset (`f.after` / `f.before`) or, for old `page=` links, by
    skipping; the other orders by skipping posts of the same Top-N."""
    if not f.brand or f.start is None or f.unknown:
        return VerbatimPage([])
    params = _verbatim_params(f)
    number, skip = f.page, 0 if (f.after or f.before) else (f.page - 1) * limit
    if f.sort == "newest":
        keys = _newest(cur, f, params, skip, limit + 1)
        if f.before:
            if len(keys) <= limit:  # nothing newer than this page: it is the first page
                return verbatim_page(cur, _replace(f, page=1, before=None), limit)
            keys = keys[:limit][::-1]  # newest first again; one more newer post exists
            more = True
        else:
            more, keys = len(keys) > limit, keys[:limit]
    else:
        keys = _first_posts(cur, _RANKED[f.sort], params, skip, limit + 1)
        more, keys = len(keys) > limit, keys[:limit]
    if not keys:
        return VerbatimPage([], number)
    ids = [pid for _, pid in keys]
    times = [created for created, _ in keys]
    rows = cur.execute(
        _CARDS,
        {**params, "ids": ids,
         "d0": min(times).astimezone(UTC).date(), "d1": max(times).astimezone(UTC).date()},
    ).fetchall()  # fmt: skip
    order = {pid: i for i, pid in enumerate(ids)}
    posts = sorted(_posts(rows), key=lambda p: order[p.post_id])
    return VerbatimPage(posts, number, more, keys[0], keys[-1])


def verbatims(cur, f: Filters, limit: int = VERBATIMS_PER_PAGE) -> tuple[int, list[Post]]:
    """(posts matching, one page of posts): one card per post, never the same post twice."""
    if not f.brand or f.start is None or f.unknown:
        return 0, []
    total, _ = verbatim_counts(cur, f)
    return total, verbatim_page(cur, f, limit).posts


def top_verbatims(cur, f: Filters, polarity: str, limit: int = 5) -> list[Post]:
    """The newest posts with a mention of one polarity (for the static report)."""
    g = _replace(f, polarity=polarity, page=1, sort="newest", after=None, before=None)
    return verbatim_page(cur, g, limit=limit).posts


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run: formula prefixes get a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def export_rows(cur, f: Filters, limit: int = EXPORT_LIMIT):
    """Header and rows of the CSV export of the current filter (at most `limit` posts)."""
    yield ("post_id", "created_utc", "brand", "source", "url", "polarity", "engagement",
           "aspects", "matched_aspects", "text")  # fmt: skip
    if not f.brand or f.start is None or f.unknown:
        return
    for p in verbatim_page(cur, _replace(f, page=1, after=None, before=None), limit).posts:
        aspects = "; ".join(f"{m.aspect} ({m.polarity})" for m in p.mentions)
        matched = "; ".join(f"{m.aspect} ({m.polarity})" for m in p.mentions if m.matched)
        yield tuple(
            csv_cell(v)
            for v in (p.post_id, p.created, p.brand, p.source, p.safe_url, p.polarity,
                      p.engagement, aspects, matched, p.text)
        )  # fmt: skip
