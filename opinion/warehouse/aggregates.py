"""Rebuild the experience-intelligence tables (`agg_daily`, `issue_windows`, ...) in one go.

`rebuild(con, settings_or_params)` runs inside every `load_lake`, after the partitions are
merged and `posts.dup_of` recomputed, before the quality checks and the publish. It replaces:

* `settings_kv` rows `min_mentions`, `min_share` (read by the views' minimum-sample rule);
* `brand_competitors` (from the brand list) and `taxonomy_rollups` (from the taxonomy pack);
* `agg_daily`: per brand × touchpoint × category × cx_domain × UTC day, over the eligible
  mentions: the post is not a duplicate (`dup_of IS NULL`), not spam (`spam_score < 0.5`)
  and has a brand;
* `issue_windows`: negative mentions per brand × touchpoint × category in 24-hour windows that
  end at the newest eligible post, each tested against comparable earlier windows
  (`opinion/insights/issues.py`).

The views of `schema/0002_insights.sql` read these tables. Formulas: docs/warehouse.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb

DEFAULT_MIN_MENTIONS = 30
SPAM_THRESHOLD = 0.5

ELIGIBLE = f"""
    FROM mentions m JOIN posts p USING (post_id)
    WHERE p.dup_of IS NULL AND coalesce(p.spam_score, 0) < {SPAM_THRESHOLD}
      AND p.brand IS NOT NULL AND p.created_at IS NOT NULL
"""

_AGG_DAILY = f"""
INSERT INTO agg_daily
WITH g AS (
    SELECT p.brand,
           coalesce(m.touchpoint, 'other') AS touchpoint,
           coalesce(m.category, 'other') AS category,
           coalesce(m.cx_domain, 'experience') AS cx_domain,
           CAST(timezone('UTC', p.created_at) AS DATE) AS day,
           count(*) AS mentions,
           count(*) FILTER (WHERE m.polarity = 'positive') AS positive,
           count(*) FILTER (WHERE m.polarity = 'negative') AS negative,
           count(*) FILTER (WHERE m.polarity = 'neutral') AS neutral
    {ELIGIBLE}
    GROUP BY ALL
)
SELECT brand, touchpoint, category, cx_domain, day, mentions, positive, negative, neutral,
       net_sentiment(positive, negative, mentions),
       opinion_score(positive, negative),
       wilson_low(positive, negative),
       wilson_high(positive, negative),
       1.0 * mentions / sum(mentions) OVER (PARTITION BY brand, day),
       mentions >= ?
FROM g
"""


@dataclass
class IssueParams:
    """Emerging-issue detection (opinion/insights/issues.py): 24-hour windows ending at the
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


@dataclass
class RebuildParams:
    min_mentions: int = DEFAULT_MIN_MENTIONS
    min_share: float = 0.01
    competitors: dict[str, list[str]] = field(default_factory=dict)
    rollups: dict[str, list[str]] = field(default_factory=dict)
    taxonomy_version: str | None = None
    issues: IssueParams = field(default_factory=IssueParams)

    @classmethod
    def from_settings(cls, settings, **over) -> RebuildParams:
        """Competitors from the brand list, roll-ups and `min_share` from the taxonomy pack."""
        competitors: dict[str, list[str]] = {}
        try:
            from opinion.clean.brands import BrandList

            brands = BrandList.load(settings.brands_file)
            competitors = {b.name: list(b.competitors) for b in brands}
        except (OSError, ValueError):
            pass
        rollups, min_share, version = {}, 0.01, None
        try:
            from opinion.nlp.taxonomy import taxonomy_for

            tax = taxonomy_for(settings)
            rollups = {k: [tax.resolve(c) for c in v] for k, v in tax.rollups.items()}
            min_share, version = tax.min_share, tax.version
        except (OSError, ValueError):
            pass
        values = {
            "competitors": competitors,
            "rollups": rollups,
            "min_share": min_share,
            "taxonomy_version": version,
        }
        values.update(over)
        return cls(**values)


def _params(settings_or_params) -> RebuildParams:
    if isinstance(settings_or_params, RebuildParams):
        return settings_or_params
    if isinstance(settings_or_params, dict):
        return RebuildParams(**settings_or_params)
    return RebuildParams.from_settings(settings_or_params)


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


def _issues(
    con: duckdb.DuckDBPyConnection, p: IssueParams, min_volume: int | None = None
) -> list[tuple]:
    """The `issue_windows` rows; the computation lives in opinion/insights/issues.py."""
    from opinion.insights.issues import detect

    return detect(con, p, min_volume)


def rebuild(con: duckdb.DuckDBPyConnection, settings_or_params) -> dict[str, int]:
    """Replace the aggregate tables in one transaction; returns row counts per table."""
    params = _params(settings_or_params)
    issues = _issues(con, params.issues, int(params.min_mentions))
    con.execute("BEGIN TRANSACTION")
    try:
        now = "now()"
        con.execute("DELETE FROM settings_kv WHERE key IN ('min_mentions', 'min_share')")
        con.execute(
            f"INSERT INTO settings_kv VALUES ('min_mentions', ?, {now}), ('min_share', ?, {now})",
            [str(int(params.min_mentions)), repr(float(params.min_share))],
        )
        con.execute("DELETE FROM brand_competitors")
        pairs = sorted({(b, c) for b, cs in params.competitors.items() for c in cs if c != b})
        if pairs:
            con.executemany("INSERT INTO brand_competitors VALUES (?, ?)", pairs)
        con.execute("DELETE FROM taxonomy_rollups")
        members = sorted({(r, c) for r, cs in params.rollups.items() for c in cs})
        if members:
            con.executemany(
                "INSERT INTO taxonomy_rollups VALUES (?, ?, ?)",
                [(r, c, params.taxonomy_version) for r, c in members],
            )
        con.execute("DELETE FROM agg_daily")
        con.execute(_AGG_DAILY, [int(params.min_mentions)])
        con.execute("DELETE FROM issue_windows")
        if issues:
            con.executemany(
                "INSERT INTO issue_windows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                issues,
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {
        t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
        for t in ("agg_daily", "issue_windows", "brand_competitors", "taxonomy_rollups")
    }
