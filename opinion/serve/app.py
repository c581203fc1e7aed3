"""`opinion serve`: the dashboard, a small server-rendered Starlette app.

Pages are Jinja2 templates (autoescaped) with inline SVG charts from `charts.py`; the one
script (`static/app.js`, submit-on-change for the filter form) is served from the package.
Each request reads the current published snapshot (`db.Snapshot`), so a load that swaps the
file never blocks or breaks the dashboard. Bad filter values become a message and an empty
state; unexpected errors become a generic page that reveals nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from opinion.config import Settings
from opinion.serve import charts, filters, queries, reviews
from opinion.serve.db import Snapshot, WarehouseMissing

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGES = (
    ("overview", "/", "Overview"),
    ("map", "/map", "Importance × satisfaction"),
    ("competitors", "/competitors", "Competitors"),
    ("trends", "/trends", "Trends"),
    ("verbatims", "/verbatims", "Verbatims"),
)


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.0%}"
    env.filters["signed"] = lambda v: "–" if v is None else f"{v:+.0f}"
    env.filters["human"] = charts.human
    env.globals["charts"] = charts
    return env


def build_context(cur, settings: Settings, page: str, f: filters.Filters, cat, link=True):
    """Everything a page (or the report, `link=False`) shows, computed from the snapshot."""

    def verb(**kw) -> str | None:
        if not link:
            return None
        kw.setdefault("page", 1)
        return "/verbatims?" + f.query(**kw)

    ctx: dict = {
        "f": f,
        "catalog": cat,
        "page": page,
        "pages": PAGES,
        "verb": verb,
        "min_mentions": cat.min_mentions,
    }
    if f.brand is None or f.unknown and page != "verbatims":
        return ctx
    if page in ("overview", "report"):
        total, rows = queries.scorecard(cur, f, cat.min_mentions)
        ctx["total"], ctx["scores"] = total, rows
        ctx["net_chart"] = charts.net_bars(
            rows, lambda r: verb(touchpoint=r.label, category=None), "Net sentiment by touchpoint"
        )
        comp = queries.competitors(cur, f.brand, cat.brands)
        ctx["sov"] = queries.share_of_voice(cur, f, comp)
        ctx["sov_chart"] = charts.share_bars(ctx["sov"], f.brand) if ctx["sov"] else None
        ctx["alerts"] = queries.alerts(cur, f)[:5]
        ctx["review_indices"] = reviews.review_indices(cur, f)  # _review_indices.html
    if page in ("map", "report"):
        cats = queries.categories(cur, f, cat.min_mentions)
        ctx["categories"] = cats
        overall = queries.wilson(sum(c.positive for c in cats), sum(c.negative for c in cats))[0]
        ctx["map_chart"] = (
            charts.quadrant(cats, lambda r: verb(category=r.label), overall) if cats else None
        )
        ctx["fix_first"] = [
            c
            for c in cats
            if c.score is not None
            and c.importance
            and c.importance >= 1 / len(cats)
            and overall is not None
            and c.score < overall
        ]
    if page in ("competitors", "report"):
        comp = queries.competitors(cur, f.brand, cat.brands)
        ctx["competitor_names"] = comp
        bms = queries.benchmark(cur, f, comp, cat.min_mentions)
        ctx["benchmarks"] = [
            (
                bm,
                charts.benchmark_rows(
                    ([bm.brand] if bm.brand else [])
                    + ([bm.pooled] if bm.pooled else [])
                    + sorted(bm.competitors, key=lambda s: -(s.score or 0)),
                    f.brand,
                    lambda s, tp=bm.touchpoint: (
                        verb(brand=s.brand, touchpoint=tp, category=None) if s.brand else None
                    ),
                ),
            )
            for bm in bms
        ]
    if page in ("trends", "report"):
        series = queries.trends(cur, f)
        al = queries.alerts(cur, f)
        alert_days: dict[str, set] = {}
        for a in al:
            start = a.window_start if f.grain == "day" else _week(a.window_start)
            end = a.window_end if f.grain == "day" else _week(a.window_end)
            for p in series.get(a.touchpoint, []):
                if start <= p.period_start <= end:
                    alert_days.setdefault(a.touchpoint, set()).add(p.period_start)
        ctx["alerts_all"] = al
        ctx["trend_chart"] = charts.lines(
            series,
            lambda tp, p: verb(
                touchpoint=tp,
                category=None,
                days=None,
                start=p.period_start,
                end=_period_end(p.period_start, f.grain, f.end),
            ),
            alert_days,
            cat.min_mentions,
        )
    if page == "verbatims":
        total, rows = queries.verbatims(cur, f)
        ctx["total"], ctx["verbatims"] = total, rows
        ctx["per_page"] = queries.VERBATIMS_PER_PAGE
    if page == "report":
        ctx["top_negative"] = queries.top_verbatims(cur, f, "negative")
        ctx["top_positive"] = queries.top_verbatims(cur, f, "positive")
    return ctx


def _week(d):
    from datetime import timedelta

    return d - timedelta(days=d.weekday())


def _period_end(start, grain: str, limit):
    from datetime import timedelta

    if grain == "day":
        return start
    end = start + timedelta(days=6)
    return min(end, limit) if limit else end


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    snapshot = Snapshot(settings.warehouse)
    env = templates()

    def render(name: str, ctx: dict, status: int = 200) -> HTMLResponse:
        html = env.get_template(name).render(**ctx)
        return HTMLResponse(html, status_code=status, headers=_headers())

    def page_handler(page: str):
        def handler(request: Request) -> Response:
            started = time.perf_counter()
            try:
                with snapshot.cursor() as cur:
                    cat = queries.catalog(cur)
                    default = cat.brands[0] if cat.brands else None
                    f = filters.parse(request.query_params, cat, default_brand=default)
                    ctx = build_context(cur, settings, page, f, cat)
            except WarehouseMissing:
                return render(
                    "error.html",
                    {
                        "pages": PAGES,
                        "page": page,
                        "message": "No published warehouse yet. Run `opinion demo` or "
                        "`opinion load`, then reload this page.",
                    },
                    503,
                )
            ctx["elapsed_ms"] = (time.perf_counter() - started) * 1000
            return render(f"{page}.html", ctx)

        handler.__name__ = f"page_{page}"
        return handler

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc) -> Response:
        return render("error.html", {"pages": PAGES, "page": "", "message": "No such page."}, 404)

    async def server_error(request: Request, exc) -> Response:
        log.exception("dashboard error on %s", request.url.path, exc_info=exc)
        return render(
            "error.html",
            {
                "pages": PAGES,
                "page": "",
                "message": "Something went wrong while reading the warehouse.",
            },
            500,
        )

    async def favicon(request: Request) -> Response:
        return RedirectResponse("/static/favicon.svg")

    routes = [Route(path, page_handler(name)) for name, path, _ in PAGES]
    routes += [
        Route("/healthz", healthz),
        Route("/favicon.ico", favicon),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 500: server_error, Exception: server_error},
    )
    app.state.snapshot = snapshot
    return app


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8050) -> None:
    import uvicorn

    if not settings.warehouse.exists():
        log.warning("no published warehouse at %s yet; pages will say so", settings.warehouse)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
