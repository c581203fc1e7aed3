"""`opinion alerts`: the emerging issues of the latest window, read from the published
warehouse (`v_emerging_issues`, see docs/warehouse.md)."""

from __future__ import annotations

from pathlib import Path

from opinion.config import Settings

COLUMNS = (
    "brand", "touchpoint", "category", "window_start", "window_end", "negatives",
    "baseline_mean", "baseline_windows", "z_score", "p_value", "severity", "persistence",
)  # fmt: skip


def emerging_issues(settings: Settings, brand: str | None = None) -> list[dict]:
    """Rows of `v_emerging_issues` (optionally one brand's), most severe first."""
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
        sql = (
            f"SELECT {', '.join(COLUMNS)} FROM v_emerging_issues "
            "WHERE ? IS NULL OR brand = ? "
            "ORDER BY severity DESC, p_value, negatives DESC, brand, category"
        )
        cur = con.execute(sql, [brand, brand])
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


def format_issues(rows: list[dict]) -> str:
    """A plain-text table, one issue a line, and the rule that raised them."""
    if not rows:
        return f"no emerging issues in the latest window\n{RULE}"
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
    lines.append(RULE)
    return "\n".join(lines)
