"""The few definitions every view, chart and report shares, in one place so they cannot drift.

* **Minimum sample** (`sufficient`): a number computed from fewer than `min_mentions` aspect
  mentions (the warehouse's `v_min_mentions`, 30 by default) is shown greyed with its n and is
  never ranked, coloured or placed in a quadrant. Counted on what the number is made of:
  mentions for volumes and net sentiment, opinions (positive + negative) for the opinion score
  (`score_sufficient`).
* **Comparable periods** (`comparable`): a comparison period with fewer than 80 % of the
  current period's days of data is not compared (a one-day "previous week").
* **Net sentiment** (`net_sentiment`): per aspect mention, 100 × (positive − negative) /
  mentions, from −100 to +100. The same definition in the dashboard, the report, `opinion
  demo`'s summary and the SQL views (`net_sentiment` macro).
* **Opinion score** (`wilson`): positive / (positive + negative) with its Wilson 95 % interval.
* **Change between periods** (`net_change`): the difference of two net sentiments and whether
  it is beyond chance (a two-sample z-test on the per-mention scores +1 / 0 / −1, 95 %).
"""

from __future__ import annotations

import math

MIN_MENTIONS = 30  # default minimum sample when the warehouse has no v_min_mentions
Z95 = 1.959963984540054


def sufficient(mentions: int | None, min_mentions: int) -> bool:
    """The minimum-sample rule: may a number from `mentions` mentions be ranked or coloured?"""
    return (mentions or 0) >= max(1, min_mentions)


def score_sufficient(positive: int, negative: int, min_mentions: int) -> bool:
    """The minimum-sample rule for an opinion score: counted on opinions, not mentions."""
    return sufficient((positive or 0) + (negative or 0), min_mentions)


COMPARABLE_DAYS = 0.8  # share of the current period's days of data a comparison period needs


def comparable(days_now: int, days_before: int) -> str | None:
    """None when the periods may be compared, else why not (one short sentence)."""
    if days_now and days_before < COMPARABLE_DAYS * days_now:
        return (
            f"not compared: the previous period has data on {days_before} of the "
            f"{days_now} days this one has (< {COMPARABLE_DAYS:.0%})"
        )
    return None


def net_sentiment(positive: int, negative: int, mentions: int) -> float | None:
    """100 × (positive − negative) / mentions (per aspect mention); None without mentions."""
    return 100.0 * (positive - negative) / mentions if mentions else None


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


def _net_variance(positive: int, negative: int, mentions: int) -> float:
    """Variance of the mean per-mention score (+1, 0, −1), in net-sentiment points²."""
    pp, pn = positive / mentions, negative / mentions
    return 100.0**2 * (pp + pn - (pp - pn) ** 2) / mentions


def net_change(now: tuple[int, int, int], before: tuple[int, int, int], min_mentions: int):
    """(change in points, z, beyond_chance) from (positive, negative, mentions) of the current
    and the previous period; (None, None, False) when either is below the minimum sample."""
    if not (sufficient(now[2], min_mentions) and sufficient(before[2], min_mentions)):
        return None, None, False
    delta = net_sentiment(*now) - net_sentiment(*before)
    se = math.sqrt(_net_variance(*now) + _net_variance(*before))
    if se == 0:
        return delta, None, delta != 0
    z = delta / se
    return delta, z, abs(z) >= Z95


def signed(value: float | None, digits: int = 0) -> str:
    """`+12`, `-3`, `0` (never `-0` or `+0`); `–` for no value."""
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        return f"{0:.{digits}f}"
    return text
