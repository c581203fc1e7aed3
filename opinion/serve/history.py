"""Past alerts: every flagged window still in `issue_windows` (`v_alert_history`), not only the
latest window's. The alert history page and the report's summary read it, so an alert stays
visible after the next load has moved on. Bound parameters only.
"""

from __future__ import annotations

import duckdb

from opinion.serve.emerging import Alert, alerts_of
from opinion.serve.filters import Filters

HISTORY_LIMIT = 500  # rows on one page; the history holds the loader's last windows only


def alert_history(cur, f: Filters, limit: int = HISTORY_LIMIT) -> list[Alert]:
    """The brand's flagged windows ending in the period (and scope), newest first, then most
    severe. Empty on a warehouse migrated before `v_alert_history` existed."""
    if not f.brand or f.start is None:
        return []
    try:
        rows = cur.execute(
            """
            SELECT brand, touchpoint, category,
                   CAST(timezone('UTC', window_start) AS DATE),
                   CAST(timezone('UTC', window_end) AS DATE), negatives, baseline_mean,
                   z_score, p_value, TRY_CAST(severity AS INTEGER), persistence,
                   timezone('UTC', window_start), timezone('UTC', window_end)
            FROM v_alert_history
            WHERE brand = $brand
              AND CAST(timezone('UTC', window_end) AS DATE) BETWEEN $start AND $end
              AND ($touchpoint IS NULL OR touchpoint = $touchpoint)
              AND ($category IS NULL OR category = $category)
            ORDER BY window_end DESC, severity DESC NULLS LAST, z_score DESC, category
            LIMIT $limit
            """,
            {"brand": f.brand, "start": f.start, "end": f.end, "touchpoint": f.touchpoint,
             "category": f.category, "limit": limit},
        ).fetchall()  # fmt: skip
    except duckdb.CatalogException:
        return []
    return alerts_of(rows)
