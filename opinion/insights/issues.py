"""Emerging issues: is a category's complaint rate in the latest 24 hours beyond chance?

Why this shape: a raw count against a plain average of earlier windows raises false alarms
whenever coverage changes (a brand with 1 mention a day for a week, then 300: every category
"surges"). Here

* windows are `window_hours` wide and end at the newest eligible post; window k covers
  (end − (k+1)·w, end − k·w], so window 0 is the latest;
* a window's **coverage** is the brand's mentions in it. An earlier window is a baseline
  only when its coverage is comparable: at least `min_volume` mentions (the minimum sample)
  and at least `coverage` (½) × the brand's typical window (the median over the lookback).
  Thin windows are never a baseline; with fewer than `min_baseline_windows` comparable
  windows nothing is tested;
* the test is on the **volume-normalised rate**: the category's negatives per unit of
  exposure, the brand's mentions outside that category (so a surge does not dilute its own
  rate): with x negatives against exposure V now and B against V_b in the baseline, under
  "same rate" X | X + B ~ Binomial(x + B, V / (V + V_b)) (the exact conditional test for two
  Poisson rates); p = P(X ≥ x). The baseline shown (`baseline_mean`) is the expected count
  at this window's exposure, B · V / V_b;
* a window is **significant** when p < `alpha` (0.01), x ≥ `min_count` (5) and the count rose
  above the baseline windows' mean count (a falling count never alerts, whatever the rates);
* **persistence**: an alert (`flagged`) needs two consecutive significant windows, or one with
  p < `alpha_single` (1e-4) — one noisy day at p = 0.009 is not an alert;
* the work is **bounded**: only the last `history_windows + lookback_windows` windows are read
  (a stray post dated 1970 costs nothing) and `issue_windows` keeps the last
  `history_windows`.

`detect(con, params, min_volume)` returns the `issue_windows` rows; `aggregates.rebuild`
writes them. The eligible mentions are those of `opinion/insights/eligible.py`. Formulas are
documented in docs/dashboard.md ("Alerts").
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from opinion.insights.eligible import ELIGIBLE
from opinion.insights.stats import MIN_MENTIONS


@dataclass
class IssueParams:
    """Emerging-issue detection (`detect`): 24-hour windows ending at the
    newest post; each window's negatives per mention of the brand's other categories against
    up to `baseline_windows` earlier windows of comparable coverage (brand volume ≥
    `min_volume`, None = the minimum sample, and ≥ `coverage` × the brand's median window),
    found within `lookback_windows`; significant when negatives >= `min_count`, above the
    baseline mean count, and the exact rate test gives p < `alpha`; an alert needs two
    significant windows running or p < `alpha_single`. Only the last
    `history_windows + lookback_windows` windows are read."""

    window_hours: int = 24
    baseline_windows: int = 7
    min_baseline_windows: int = 3
    lookback_windows: int = 28
    history_windows: int = 14
    coverage: float = 0.5
    min_volume: int | None = None
    min_count: int = 5
    alpha: float = 0.01
    alpha_single: float = 1e-4
    baseline_floor: float = 0.5


def poisson_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam), summed in log space (no underflow for large lam)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0

    def term(i: int) -> float:
        return math.exp(-lam + i * math.log(lam) - math.lgamma(i + 1))

    below = sum(term(i) for i in range(k))
    if below < 0.999:
        return max(0.0, 1.0 - below)
    total, i = 0.0, k  # tiny tail: sum upwards for precision
    while True:
        t = term(i)
        total += t
        if i > lam and t < total * 1e-16:
            return min(1.0, total)
        i += 1


def severity(p_value: float) -> int:
    """1..10: one step per factor 100 of improbability (p 1e-2 → 1, 1e-4 → 2, ...)."""
    p = max(p_value, 1e-300)
    return max(1, min(10, math.ceil(-math.log10(p) / 2)))


def rate_test(x: int, volume: int, base_negatives: int, base_volume: int) -> float:
    """P(X ≥ x) under equal negatives-per-mention rates now and in the baseline (exact
    conditional binomial test of two Poisson rates)."""
    from scipy.stats import binom

    if x <= 0:
        return 1.0
    if volume <= 0 or base_volume <= 0:
        return 1.0
    q = volume / (volume + base_volume)
    return float(binom.sf(x - 1, x + base_negatives, q))


#: The eligible mentions (brand, touchpoint, category, polarity, created_at) read from the
#: mentions × posts join; `verbatims` (the same rows, pre-joined by the loader) is the cheap
#: alternative when it is current (`detect(..., source="verbatims")`).
JOINED = f"""(SELECT p.brand, coalesce(m.touchpoint, 'other') AS touchpoint,
       coalesce(m.category, 'other') AS category, m.polarity, p.created_at {ELIGIBLE})"""


def _window_counts(con, p: IssueParams, end_us: int, n_windows: int, source: str = JOINED):
    """({brand: {k: volume}}, {(brand, tp, cat): {k: (negatives, mentions)}}), k < n_windows."""
    w_us = p.window_hours * 3600 * 1_000_000
    since_us = end_us - n_windows * w_us
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rows = con.execute(
        f"""
        SELECT brand, touchpoint, category,
               CAST(floor((? - epoch_us(created_at)) / ?) AS INTEGER) AS k,
               count(*) AS mentions,
               count(*) FILTER (WHERE polarity = 'negative') AS negatives
        FROM {source} e
        WHERE created_at > ?
        GROUP BY ALL
        """,
        [end_us, w_us, epoch + timedelta(microseconds=since_us)],
    ).fetchall()
    volume: dict[str, dict[int, int]] = {}
    negatives: dict[tuple[str, str, str], dict[int, tuple[int, int]]] = {}
    for brand, tp, cat, k, mentions, neg in rows:
        if k >= n_windows:
            continue
        vb = volume.setdefault(brand, {})
        vb[k] = vb.get(k, 0) + mentions
        negatives.setdefault((brand, tp, cat), {})[k] = (neg, mentions)
    return volume, negatives


def baseline_windows(
    volume: dict[int, int], k: int, n_windows: int, p: IssueParams, min_volume: int
) -> list[int]:
    """The comparable earlier windows for window k, nearest first (at most
    `baseline_windows`, looking back at most `lookback_windows`): brand volume at least
    `min_volume` and at least `coverage` × the brand's typical (median) window volume."""
    span = range(k, min(n_windows, k + 1 + p.lookback_windows))
    seen = [volume[j] for j in span if volume.get(j)]
    need = max(min_volume, math.ceil(p.coverage * statistics.median(seen))) if seen else 1
    out = []
    for j in span[1:]:
        if volume.get(j, 0) >= need:
            out.append(j)
            if len(out) == p.baseline_windows:
                break
    return out


def exposure(volume: dict[int, int], counts: dict[int, tuple[int, int]], k: int) -> int:
    """The brand's mentions outside the tested category in window k: the denominator of the
    rate, so that a surge does not dilute its own rate nor disqualify its own baseline."""
    return volume.get(k, 0) - counts.get(k, (0, 0))[1]


def detect(
    con: duckdb.DuckDBPyConnection,
    p: IssueParams,
    min_volume: int | None = None,
    source: str = JOINED,
) -> list[tuple]:
    """The `issue_windows` rows (latest `history_windows` windows per brand × category).
    `source`: the eligible mentions, `JOINED` or the name of a table with the same columns
    (the loader passes `verbatims`, refreshed just before: no join of all mentions)."""
    floor_volume = next(v for v in (p.min_volume, min_volume, MIN_MENTIONS) if v is not None)
    bounds = con.execute(
        f"SELECT epoch_us(min(created_at)), epoch_us(max(created_at)) FROM {source} e"
    ).fetchone()
    if not bounds or bounds[1] is None:
        return []
    first = datetime.fromtimestamp(bounds[0] / 1e6, tz=UTC)
    end = datetime.fromtimestamp(bounds[1] / 1e6, tz=UTC)
    width = timedelta(hours=p.window_hours)
    # only whole windows inside the data, and never more than the bounded horizon
    horizon = p.history_windows + p.lookback_windows
    n_windows = max(1, min(horizon, int((end - first) / width)))
    volume, negatives = _window_counts(con, p, bounds[1], n_windows, source)
    tested = min(n_windows, p.history_windows)
    out = []
    for (brand, tp, cat), counts in sorted(negatives.items()):
        vol = volume.get(brand, {})
        run = 0
        for k in range(tested - 1, -1, -1):  # oldest first, for persistence
            x = counts.get(k, (0, 0))[0]
            base = baseline_windows(vol, k, n_windows, p, floor_volume)
            if len(base) < p.min_baseline_windows:
                run = 0
                continue
            b_neg = sum(counts.get(j, (0, 0))[0] for j in base)
            now, b_exp = exposure(vol, counts, k), sum(exposure(vol, counts, j) for j in base)
            if now <= 0 or b_exp <= 0:  # the brand talks of nothing else: use its volume
                now, b_exp = vol.get(k, 0), sum(vol.get(j, 0) for j in base)
            expected = b_neg * now / b_exp
            pv = rate_test(x, now, b_neg, b_exp)
            lam = max(expected, p.baseline_floor)
            z = (x - lam) / math.sqrt(lam)
            significant = x >= p.min_count and x > b_neg / len(base) and pv < p.alpha
            run = run + 1 if significant else 0
            flagged = significant and (run >= 2 or pv < p.alpha_single)
            w_end = end - k * width
            out.append(
                (
                    brand, tp, cat, w_end - width, w_end, x, expected, len(base), z, pv,
                    flagged, severity(pv) if flagged else None, run, k == 0,
                )
            )  # fmt: skip
    return out
