"""`opinion report`: one self-contained HTML file (inline CSS and SVG, no external requests)
with the dashboard's scorecard, charts and top verbatims; optionally a PDF via headless
Chromium's `--print-to-pdf`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from opinion.config import Settings
from opinion.serve import catalog, charts, filters, history, summary
from opinion.serve.app import PAGES, build_context, templates
from opinion.serve.db import Snapshot

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    env = os.environ.get("OPINION_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render_report(
    settings: Settings,
    brand: str,
    start: date | None = None,
    end: date | None = None,
    days: int | None = None,
) -> str:
    """The report's HTML. ValueError when the brand is unknown or the period holds no data."""
    snapshot = Snapshot(settings.warehouse)
    try:
        with snapshot.cursor() as cur:
            cat = catalog.catalog(cur)
            if brand not in cat.brands:
                known = ", ".join(cat.brands) or "none loaded"
                raise ValueError(f"unknown brand {brand!r} (known: {known})")
            s, e = filters.resolve_period(cat, start, end, days)
            if s is None or e is None or s > e or filters.outside(cat, s, e):
                raise ValueError(
                    f"the period holds no data (the warehouse holds {cat.first_day} to "
                    f"{cat.last_day})"
                )
            f = filters.Filters(brand=brand, start=s, end=e)
            ctx = build_context(cur, settings, "report", f, cat, link=False)
            ctx.update(executive(cur, f, ctx))
    finally:
        snapshot.close()
    ctx.update(
        pages=PAGES,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        warehouse=settings.warehouse.name,
    )
    return templates().get_template("report.html").render(**ctx)


def executive(cur, f: filters.Filters, ctx: dict) -> dict:
    """What the report adds to the overview's numbers: the one-page summary (headline, the top
    things to fix, what changed beyond chance, alerts, share of voice), a trend chart of the
    top touchpoints only, and the representative verbatims of the top categories."""
    scores, cats = ctx.get("scores") or [], ctx.get("categories") or []
    fix_first = ctx.get("fix_first") or []
    top = summary.top_touchpoints(scores)
    if ctx.get("trend_series") is not None:
        series = {tp: pts for tp, pts in ctx["trend_series"].items() if tp in top}
        ctx["trend_chart"] = charts.lines(
            series, lambda tp, p: None, ctx.get("trend_alert_days"), ctx["min_mentions"],
            ctx["catalog"].touchpoints, f.grain,
        )  # fmt: skip
    seen: list[str] = []
    return {
        "headline": summary.headline(f.brand, ctx.get("total")),
        "top_fixes": fix_first[: summary.TOP_FIXES],
        "changes": summary.changes(ctx.get("total"), scores, cats),
        "alert_history": history.alert_history(cur, f),
        "trend_touchpoints": top,
        "quotes_negative": summary.representative(
            cur, f, summary.verbatim_categories(fix_first, cats, "negative"), "negative", seen
        ),
        "quotes_positive": summary.representative(
            cur, f, summary.verbatim_categories(fix_first, cats, "positive"), "positive", seen
        ),
    }


def write_report(
    settings: Settings,
    brand: str,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    days: int | None = None,
    pdf: bool = False,
) -> list[Path]:
    """Write `out` (HTML) and, with `pdf`, `out` with suffix .pdf. Returns the written paths."""
    chromium = find_chromium() if pdf else None
    if pdf and chromium is None:
        raise RuntimeError(
            "--pdf needs Chromium (`chromium` on PATH or OPINION_CHROMIUM); "
            "install it or drop --pdf"
        )
    html = render_report(settings, brand, start, end, days)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    written = [out]
    if pdf:
        pdf_path = out.with_suffix(".pdf")
        print_pdf(chromium, out, pdf_path)
        written.append(pdf_path)
    return written


def print_pdf(chromium: str, html: Path, pdf: Path, timeout: float = 120) -> None:
    with tempfile.TemporaryDirectory(prefix="opinion-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf.resolve()}",
            html.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"chromium --print-to-pdf failed: {tail[0]}")
