"""`opinion alerts`: the emerging issues of the latest window (`v_emerging_issues`) or, with
`--days N`, every flagged window ending in the last N days of data (`v_alert_history`), newest
first, each with the dashboard link to its posts (see docs/warehouse.md)."""

from __future__ import annotations

from pathlib import Path

from opinion.config import Settings

COLUMNS = (
    "brand", "touchpoint", "category", "window_start", "window_end", "negatives",
    "baseline_mean", "baseline_windows", "z_score", "p_value", "severity", "persistence",
)  # fmt: skip


def emerging_issues(
    settings: Settings, brand: str | None = None, days: int | None = None
) -> list[dict]:
    """Rows of `v_emerging_issues` (optionally one brand's), most severe first; with `days`,
    the flagged windows of `v_alert_history` ending in the last `days` days of data, newest
    first (the history holds the loader's last `history_windows` windows)."""
    import duckdb

    path = Path(settings.warehouse)
    if not path.exists():
        raise FileNotFoundError(f"no published warehouse at {path}; run `opinion load` first")
    # read-only, session time zone UTC: what `opinion.warehouse.connect` does for readers
    # (insights imports nothing from opinion.warehouse: the loader imports insights)
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        if brand is not None:
            known = [b for (b,) in con.execute("SELECT DISTINCT brand FROM agg_daily").fetchall()]
            if brand not in known:
                names = ", ".join(sorted(known)) or "none loaded"
                raise ValueError(f"unknown brand {brand!r} (known: {names})")
        if days is None:
            sql = (
                f"SELECT {', '.join(COLUMNS)} FROM v_emerging_issues "
                "WHERE ? IS NULL OR brand = ? "
                "ORDER BY severity DESC, p_value, negatives DESC, brand, category"
            )
            cur = con.execute(sql, [brand, brand])
        else:
            sql = (
                f"SELECT {', '.join(COLUMNS)} FROM v_alert_history "
                "WHERE (? IS NULL OR brand = ?) AND window_end > data_end - to_days(?) "
                "ORDER BY window_end DESC, severity DESC, p_value, brand, category"
            )
            try:
                cur = con.execute(sql, [brand, brand, days])
            except duckdb.CatalogException:
                raise ValueError(
                    "this warehouse has no alert history yet (run `opinion load` to migrate it)"
                ) from None
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    return rows


RULE = (
    "test: the category's negatives per mention of the brand's other categories in the latest "
    "24 h against >= 3 earlier windows of comparable brand volume; exact rate test, alpha "
    "0.01, >= 5 negatives, count above the baseline mean; alert when significant 2 windows "
    "running or p < 1e-4"
)


def posts_link(row: dict, base: str = "") -> str:
    """The dashboard's verbatims of an alert: its category's negative posts in its window."""
    from urllib.parse import urlencode

    query = urlencode(
        {
            "brand": row["brand"],
            "touchpoint": row["touchpoint"],
            "category": row["category"],
            "polarity": "negative",
            "since": row["window_start"].isoformat(),
            "until": row["window_end"].isoformat(),
        }
    )
    return f"{base.rstrip('/')}/verbatims?{query}"


def format_issues(rows: list[dict], days: int | None = None, base: str = "") -> str:
    """A plain-text table, one issue a line with the link to its posts, and the rule."""
    if not rows:
        where = "in the latest window" if days is None else f"in the last {days} days of data"
        return f"no emerging issues {where}\n{RULE}"
    head = f"{'brand':<16} {'touchpoint':<18} {'category':<18} {'neg':>5} {'base':>6} "
    head += f"{'z':>6} {'p':>9} {'sev':>3} {'run':>3}  window"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['brand']:<16} {r['touchpoint']:<18} {r['category']:<18} {r['negatives']:>5} "
            f"{r['baseline_mean']:>6.1f} {r['z_score']:>6.1f} {r['p_value']:>9.2e} "
            f"{r['severity']:>3} {r['persistence']:>3}  "
            f"{r['window_start']:%Y-%m-%d %H:%M} → {r['window_end']:%Y-%m-%d %H:%M} UTC"
        )
        lines.append(f"  posts: {posts_link(r, base)}")
    lines.append(RULE)
    return "\n".join(lines)
