"""The report's executive summary and its verbatims: what a manager reads on page one.

Everything here is derived from numbers the dashboard already shows (the scorecard, the map's
categories, share of voice, the alert history), so the summary never says anything that a page
does not; the rules (minimum sample, partial periods, beyond chance) come with those numbers.
The verbatims are the most *representative* posts of the top categories, not the latest: see
`representative`.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _replace

from opinion.insights.stats import signed
from opinion.serve import verbatims
from opinion.serve.charts import human as _human
from opinion.serve.filters import Filters
from opinion.serve.scorecard import Score

TOP_FIXES = 3  # things to fix on page one
TOP_TREND_TOUCHPOINTS = 5  # lines on the report's trend chart (11 overlapping were unreadable)
TOP_VERBATIM_CATEGORIES = 3  # categories whose representative posts the report shows
POSTS_PER_CATEGORY = 2
MAX_CHANGES = 8  # lines of "what changed beyond chance" on page one


@dataclass
class Change:
    """One movement beyond chance, in words, with its numbers."""

    scope: str
    points: float
    z: float
    basis: str  # "vs the previous period" or "within the period"

    @property
    def text(self) -> str:
        word = "improved" if self.points > 0 else "worsened"
        return f"{self.scope} {word} {signed(self.points)} pts {self.basis} (z {self.z:+.1f})"


def headline(brand: str, total: Score | None) -> str:
    """One sentence: the brand's level and whether it moved beyond chance."""
    if total is None or not total.mentions:
        return f"No mentions of {brand} in this period."
    if not total.sufficient:
        return (
            f"{brand}: only {total.mentions} aspect mentions in this period, below the minimum "
            "sample; no conclusion can be drawn."
        )
    level = f"{brand}: net sentiment {signed(total.net)} over {total.mentions:,} aspect mentions"
    if total.score_sufficient:
        level += f", opinion score {total.score:.0%} ({total.low:.0%}–{total.high:.0%})"
    d, z, beyond = total.change
    if total.partial:
        moved = f"not compared with the previous period ({total.partial})"
    elif d is None:
        moved = "no comparable previous period"
    elif beyond:
        moved = f"{signed(d)} pts vs the previous period, beyond chance (z {z:+.1f})"
    else:
        moved = f"no change beyond chance vs the previous period ({signed(d)} pts)"
    return f"{level}; {moved}."


def changes(total: Score | None, touchpoints: list[Score], categories: list[Score]) -> list[Change]:
    """What moved beyond chance: the brand and each touchpoint vs the previous period, then
    the categories' within-period trends (second half vs first), largest first."""
    out: list[Change] = []
    scopes = [(total, "Overall")] + [(t, _human(t.label)) for t in touchpoints]
    for s, name in scopes:
        d, z, beyond = s.change if s is not None else (None, None, False)
        if beyond and d is not None and z is not None:
            out.append(Change(name, d, z, "vs the previous period"))
    within = scopes + [(c, _human(c.label)) for c in categories if c.label != "other"]
    trending = [(s, n) for s, n in within if s is not None and s.sufficient and s.trend_beyond]
    for s, name in sorted(trending, key=lambda t: (t[1] != "Overall", -abs(t[0].trend or 0))):
        out.append(Change(name, s.trend, s.trend_z, "within the period"))
    return out[:MAX_CHANGES]


def top_touchpoints(scores: list[Score], n: int = TOP_TREND_TOUCHPOINTS) -> list[str]:
    """The touchpoints with the most mentions (those reaching the minimum sample first), not
    "other"."""
    named = [s for s in scores if s.label != "other"]  # the catch-all is no touchpoint to act on
    return [s.label for s in named[:n]]  # `scorecard.ranked` order: sufficient, by mentions


def verbatim_categories(fix_first: list[Score], categories: list[Score], polarity: str):
    """The categories whose posts the report quotes: for negatives the fix-first list (then
    the most complained-about), for positives the most praised; never "other"."""
    solid = [c for c in categories if c.sufficient and c.label != "other"]
    if polarity == "negative":
        picked = [c for c in fix_first if c.label != "other"]
        rest = sorted(solid, key=lambda c: -c.negative)
    else:
        picked = []
        rest = sorted(solid, key=lambda c: -c.positive)
    for c in rest:
        if c not in picked and (c.negative if polarity == "negative" else c.positive) > 0:
            picked.append(c)
    return picked[:TOP_VERBATIM_CATEGORIES]


# The most representative posts of one category and polarity, ranked by
#  0. naming it: a post whose mention of the category is explicit (an aspect term), not only
#     implied by the category head;
#  1. purity: the share of the post's mentions that are this category with this polarity (a
#     post about the thing, not a post that touches it among five others);
#  2. typicality: how common its aspect is among the category's mentions of that polarity
#     (the aspect most people use for this complaint, not a rare one);
#  3. a readable length (40–400 characters), then engagement, then newest.
_REPRESENTATIVE = """
WITH m AS (
    SELECT post_id, created_at, category, polarity, aspect, post_engagement, length(text) AS len
    FROM verbatims
    WHERE brand = $brand AND day BETWEEN $start AND $end
      AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
),
hit AS (SELECT * FROM m WHERE category = $category AND polarity = $polarity),
freq AS (SELECT aspect, count(*) / sum(count(*)) OVER () AS share FROM hit GROUP BY aspect),
post AS (
    SELECT m.post_id, any_value(m.created_at) AS created_at,
           any_value(m.post_engagement) AS engagement, any_value(m.len) AS len,
           count(*) FILTER (WHERE m.category = $category AND m.polarity = $polarity) / count(*)
               AS purity,
           bool_or(m.aspect IS NOT NULL)
               FILTER (WHERE m.category = $category AND m.polarity = $polarity) AS explicit,
           max(freq.share) FILTER (WHERE m.category = $category AND m.polarity = $polarity)
               AS typical
    FROM m LEFT JOIN freq ON freq.aspect IS NOT DISTINCT FROM m.aspect
    WHERE m.post_id IN (SELECT post_id FROM hit)
    GROUP BY m.post_id
)
SELECT post_id, epoch_us(created_at) FROM post
WHERE NOT list_contains($exclude, post_id)
ORDER BY explicit DESC, purity DESC, typical DESC, (len BETWEEN 40 AND 400) DESC, engagement DESC,
         created_at DESC, post_id
LIMIT $k
"""


def representative(
    cur,
    f: Filters,
    categories: list[Score],
    polarity: str,
    seen: list[str] | None = None,
    per_category: int = POSTS_PER_CATEGORY,
) -> list[tuple[Score, list[verbatims.Post]]]:
    """(category, its most representative posts of `polarity`) for each category; a post is
    quoted once in the whole report (`seen` is extended, so pass the same list for both
    polarities)."""
    out = []
    seen = [] if seen is None else seen
    for c in categories:
        rows = cur.execute(
            _REPRESENTATIVE,
            {"brand": f.brand, "start": f.start, "end": f.end, "touchpoint": f.touchpoint,
             "category": c.label, "polarity": polarity, "exclude": seen, "k": per_category},
        ).fetchall()  # fmt: skip
        if not rows:
            continue
        g = _replace(f, category=c.label, polarity=polarity, aspect=None, q=None)
        posts = verbatims.cards(cur, g, verbatims._keys(rows))
        seen.extend(p.post_id for p in posts)
        out.append((c, posts))
    return out
