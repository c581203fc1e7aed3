"""The "complaint drivers" page: what the brand's negative posts are mainly about.

Each post carries its root cause (`posts.primary_touchpoint` / `primary_category`, read by the
pack's root-cause head at extraction, migration 0011). A driver's share is the share of the
brand's negative posts in the period whose primary touchpoint (or, below a touchpoint, whose
primary category) it is: one post counts once, under its cause, however many aspects it
names. Posts that are duplicates, spam-flagged or without a root cause are left out, as
elsewhere. The page drills touchpoint → category → the posts themselves, shows each driver's
change against the previous period of the same length, and its share day by day (or week by
week) as a trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from opinion.insights.eligible import SPAM_THRESHOLD
from opinion.serve.charts import PALETTE, _svg, human
from opinion.serve.filters import Filters

POSTS_SHOWN = 20  # the newest negative posts of a driver, shown at the category level
TREND_SERIES = 6  # the largest drivers drawn on the trend chart

_BASE = f"""
    FROM posts
    WHERE brand = $brand AND sentiment = 'negative' AND dup_of IS NULL
      AND coalesce(spam_score, 0) < {SPAM_THRESHOLD}
      AND primary_touchpoint IS NOT NULL AND created_at IS NOT NULL
      AND CAST(created_at AS DATE) BETWEEN $start AND $end
      AND ($touchpoint IS NULL OR primary_touchpoint = $touchpoint)
"""


@dataclass
class Driver:
    label: str  # a touchpoint, or a category under the chosen touchpoint
    posts: int
    share: float  # of the scope's negative posts in the period
    previous: float | None  # the same share in the previous period (None: no posts then)
    confidence: float | None  # mean root-cause confidence (None: mention-based)

    @property
    def change(self) -> float | None:
        return None if self.previous is None else self.share - self.previous


def _params(f: Filters, start: date, end: date, touchpoint: str | None) -> dict:
    return {"brand": f.brand, "start": start, "end": end, "touchpoint": touchpoint}


def _shares(cur, f: Filters, start: date, end: date, key: str, touchpoint: str | None):
    rows = cur.execute(
        f"SELECT {key}, count(*), avg(primary_confidence) {_BASE} GROUP BY 1",
        _params(f, start, end, touchpoint),
    ).fetchall()
    total = sum(n for _, n, _ in rows)
    return {label: (n, n / total, conf) for label, n, conf in rows if label}, total


def drivers(cur, f: Filters, previous: tuple[date, date] | None) -> tuple[int, list[Driver]]:
    """(negative posts in scope, drivers largest first): touchpoints, or the categories of
    `f.touchpoint` when one is chosen."""
    if not f.brand or f.start is None:
        return 0, []
    key = "primary_category" if f.touchpoint else "primary_touchpoint"
    now, total = _shares(cur, f, f.start, f.end, key, f.touchpoint)
    before = _shares(cur, f, *previous, key, f.touchpoint)[0] if previous else {}
    out = [
        Driver(label, n, share, before[label][1] if label in before else None, conf)
        for label, (n, share, conf) in now.items()
    ]
    return total, sorted(out, key=lambda d: (-d.posts, d.label))


def driver_posts(cur, f: Filters, limit: int = POSTS_SHOWN) -> list[tuple]:
    """The newest negative posts whose root cause is `f.category` (under `f.touchpoint`):
    (created_at, text, primary_confidence, post_id)."""
    if not f.brand or f.start is None or not f.category:
        return []
    return cur.execute(
        f"SELECT created_at, text, primary_confidence, post_id {_BASE} "
        "AND primary_category = $category ORDER BY created_at DESC, post_id LIMIT $limit",
        {**_params(f, f.start, f.end, f.touchpoint), "category": f.category, "limit": limit},
    ).fetchall()


def trend(cur, f: Filters) -> dict[str, list[tuple[date, float, int]]]:
    """Per driver, (period start, share of the period's negative posts, posts) per day or
    week (`f.grain`)."""
    if not f.brand or f.start is None:
        return {}
    key = "primary_category" if f.touchpoint else "primary_touchpoint"
    period = "CAST(created_at AS DATE)" if f.grain == "day" else (
        "CAST(date_trunc('week', created_at) AS DATE)"
    )  # fmt: skip
    rows = cur.execute(
        f"SELECT {period} AS period, {key}, count(*) {_BASE} GROUP BY ALL ORDER BY period",
        _params(f, f.start, f.end, f.touchpoint),
    ).fetchall()
    totals: dict[date, int] = {}
    for p, _, n in rows:
        totals[p] = totals.get(p, 0) + n
    out: dict[str, list[tuple[date, float, int]]] = {}
    for p, label, n in rows:
        out.setdefault(label, []).append((p, n / totals[p], n))
    return out


def trend_chart(series: dict, order: list[str]) -> Markup | None:
    """Lines of each large driver's share of negative posts per period (inline SVG)."""
    keep = [k for k in order if k in series][:TREND_SERIES]
    periods = sorted({p for k in keep for p, _, _ in series[k]})
    if len(periods) < 2:
        return None
    w, h, left, bottom, top = 640, 220, 40, 24, 10
    x = {p: left + (w - left - 130) * i / (len(periods) - 1) for i, p in enumerate(periods)}
    top_share = max(s for k in keep for _, s, _ in series[k]) or 1.0

    def y(share: float) -> float:
        return top + (h - top - bottom) * (1 - share / top_share)

    body = [
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{w - 130}" y2="{y(0):.1f}" class="axis"/>',
        f'<text x="2" y="{y(top_share) + 4:.1f}" class="tick">{top_share:.0%}</text>',
        f'<text x="2" y="{y(0):.1f}" class="tick">0%</text>',
        f'<text x="{left}" y="{h - 6}" class="tick">{periods[0].isoformat()}</text>',
        f'<text x="{w - 200}" y="{h - 6}" class="tick">{periods[-1].isoformat()}</text>',
    ]
    for i, k in enumerate(keep):
        colour = PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{x[p]:.1f},{y(s):.1f}" for p, s, _ in series[k])
        body.append(
            f'<g><title>{escape(human(k))}</title><polyline points="{pts}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{w - 124}" y="{top + 14 * i + 10}" fill="{colour}" class="tick">'
            f"{escape(human(k))}</text></g>"
        )
        body += [
            f'<circle cx="{x[p]:.1f}" cy="{y(s):.1f}" r="2.5" fill="{colour}">'
            f"<title>{escape(human(k))} {p.isoformat()}: {s:.0%} ({n} posts)</title></circle>"
            for p, s, n in series[k]
        ]
    return _svg(w, h, "".join(body), "Share of negative posts by driver over time")


def context(cur, f: Filters, previous) -> dict:
    """What the drivers page shows for the filters."""
    total, rows = drivers(cur, f, previous)
    return {
        "negative_posts": total,
        "drivers": rows,
        "driver_level": "category" if f.touchpoint else "touchpoint",
        "driver_posts": driver_posts(cur, f),
        "driver_trend": trend_chart(trend(cur, f), [d.label for d in rows]),
    }
