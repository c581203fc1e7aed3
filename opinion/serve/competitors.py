"""The brand against its competitor set: the set itself (`brand_competitors`), the overview's
share of voice and the competitors page's per-touchpoint benchmark (brand, each competitor and
the pooled set, with the net-sentiment gap and its two-sample z-test).

Builds on `scorecard.Score`; every value is bound with a parameter, never formatted into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from opinion.insights.stats import Z95, net_change
from opinion.serve.filters import Filters
from opinion.serve.scorecard import Score


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


def chosen(cur, f: Filters, available: tuple[str, ...]) -> list[str]:
    """The competitors picked on the page (`?vs=`), else the brand's set from the brand file."""
    return list(f.vs) if f.vs else competitors(cur, f.brand, available)


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
    def z(self) -> float | None:
        """z of the gap: the same two-sample z-test on the per-mention net-sentiment scores
        (+1 / 0 / −1) as every change on the dashboard (`stats.net_change`)."""
        if not self.sufficient:
            return None
        b, c = self.brand, self.pooled
        return net_change(
            (b.positive, b.negative, b.mentions), (c.positive, c.negative, c.mentions), 1
        )[1]

    @property
    def separated(self) -> bool:
        """The gap shown (net sentiment) is beyond chance: |z| >= 1.96 on that same gap."""
        z = self.z
        return z is not None and abs(z) >= Z95


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
