"""`opinion serve`: the dashboard, a small server-rendered Starlette app.

Pages are Jinja2 templates (autoescaped) with inline SVG charts from `charts.py`; the one
script (`static/app.js`, submit-on-change for the filter form) is served from the package.
Each request reads the current published snapshot (`db.Snapshot`), so a load that swaps the
file never blocks or breaks the dashboard. Bad filter values become a message and an empty
state; unexpected errors become a generic page that reveals nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from opinion.config import Settings
from opinion.insights import stats
from opinion.serve import (
    attributes,
    catalog,
    charts,
    competitors,
    complaint_drivers,
    emerging,
    exports,
    filters,
    manager_pages,
    reviews,
    scorecard,
    trends,
    verbatims,
)
from opinion.serve.db import Snapshot, WarehouseMissing

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
COUNTS_CACHED = 256  # verbatim counts kept per app (one small tuple each)
PAGES = (
    ("overview", "/", "Overview"),
    ("map", "/map", "Importance × satisfaction"),
    ("competitors", "/competitors", "Competitors"),
    ("trends", "/trends", "Trends"),
    ("complaints", "/complaints", "Complaint drivers"),
    ("verbatims", "/verbatims", "Verbatims"),
    *manager_pages.PAGES,
)


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.0%}"
    env.filters["signed"] = stats.signed
    env.filters["human"] = charts.human
    env.globals["charts"] = charts
    return env


def drill_down(cur, f: filters.Filters, cat, scores=None) -> dict | None:
    """The next level below the current scope: touchpoints → categories → aspects."""
    if f.brand is None or f.unknown or f.start is None:
        return None
    unscoped = replace(f, touchpoint=None, category=None)
    if f.category:
        rows = scorecard.aspects(cur, f, cat.min_mentions)
        return {"level": "aspects", "scope": charts.human(f.category), "next": None,
                "rows": rows, "open": True}  # fmt: skip
    if f.touchpoint:
        rows = scorecard.categories(cur, f, cat.min_mentions)
        return {"level": "categories", "scope": charts.human(f.touchpoint),
                "next": "category", "rows": rows, "open": True}  # fmt: skip
    if scores is None:
        _, scores = scorecard.scorecard(cur, unscoped, cat.min_mentions)
    return {"level": "touchpoints", "scope": f.brand, "next": "touchpoint", "rows": scores,
            "open": False}  # fmt: skip


def build_context(
    cur, settings: Settings, page: str, f: filters.Filters, cat, link=True, counts=None
):
    """Everything a page (or the report, `link=False`) shows, computed from the snapshot.
    `counts(cur, f)` gives the verbatims' (posts, mentions); the app passes a cached one."""
    counts = counts or verbatims.verbatim_counts
    if page != "verbatims" and f.aspect:
        f = replace(f, aspect=None)  # aspects exist only at mention level: verbatims

    def verb(**kw) -> str | None:
        if not link:
            return None
        kw.setdefault("page", 1)
        return "/verbatims?" + f.query(**kw)

    minimum = cat.min_mentions
    ctx: dict = {
        "f": f,
        "catalog": cat,
        "page": page,
        "pages": PAGES,
        "verb": verb,
        "min_mentions": minimum,
        "sufficient": lambda n: stats.sufficient(n, minimum),
        "previous": scorecard.previous_period(f),
        "drill": None,
        "map_level": "category",
        "importance_split": None,
        "average": None,
    }
    if f.brand is None or f.unknown and page != "verbatims":
        return ctx
    if page in ("overview", "report"):
        total, rows = scorecard.scorecard(cur, f, minimum)
        ctx["total"], ctx["scores"] = total, rows
        ctx["net_chart"] = charts.net_bars(
            rows, lambda r: verb(touchpoint=r.label), "Net sentiment by touchpoint"
        )
        comp = competitors.chosen(cur, f, cat.brands)
        ctx["sov"] = competitors.share_of_voice(cur, f, comp)
        ctx["sov_chart"] = charts.share_bars(ctx["sov"], f.brand) if ctx["sov"] else None
        ctx["alerts"] = emerging.alerts(cur, f)[:5]
        ctx["review_indices"] = reviews.review_indices(cur, f)  # _review_indices.html
    if page in ("map", "report"):
        if f.category and page == "map":
            points, level = scorecard.aspects(cur, f, minimum), "aspect"
            mark = lambda r: verb(aspect=r.label)  # noqa: E731
        else:
            points, level = scorecard.categories(cur, f, minimum), "category"
            mark = lambda r: verb(category=r.label)  # noqa: E731
        ctx["categories"], ctx["map_level"] = points, level
        solid = [c for c in points if c.sufficient and c.score_sufficient]
        average = stats.wilson(sum(c.positive for c in solid), sum(c.negative for c in solid))[0]
        ctx["average"] = average
        scored = [c for c in points if c.score is not None]
        # one point has nothing to be compared with: no quadrant, say so instead
        ctx["map_chart"] = charts.quadrant(points, mark, average) if len(scored) > 1 else None
        split = 1 / len([c for c in points if c.score is not None] or [1])
        ctx["importance_split"] = split
        ctx["fix_first"] = sorted(
            (
                c
                for c in solid
                if c.score is not None and c.importance is not None and c.label != "other"
                and c.importance >= split and c.score < charts.Y_SPLIT
            ),
            key=lambda c: -c.negative,
        )  # fmt: skip
    if page in ("competitors", "report"):
        comp = competitors.chosen(cur, f, cat.brands)
        ctx["competitor_names"] = comp
        ctx["competitor_default"] = competitors.competitors(cur, f.brand, cat.brands)
        bms = competitors.benchmark(cur, f, comp, minimum)
        ctx["benchmarks"] = [
            (
                bm,
                charts.benchmark_rows(
                    ([bm.brand] if bm.brand else [])
                    + ([bm.pooled] if bm.pooled else [])
                    + bm.competitors,
                    f.brand,
                    lambda s, tp=bm.touchpoint: (
                        verb(brand=s.brand, touchpoint=tp, category=None) if s.brand else None
                    ),
                ),
            )
            for bm in bms
        ]
    if page in ("trends", "report"):
        series = trends.trends(cur, f)
        al = emerging.alerts(cur, f)
        alert_days: dict[str, set] = {}
        for a in al:
            start = filters.period_of(a.window_start, f.grain)
            end = filters.period_of(a.window_end, f.grain)
            for p in series.get(a.touchpoint, []):
                if start <= p.period_start <= end:
                    alert_days.setdefault(a.touchpoint, set()).add(p.period_start)
        ctx["alerts_all"] = al
        ctx["trend_series"], ctx["trend_alert_days"] = series, alert_days  # the report's chart
        ctx["trend_chart"] = charts.lines(
            series,
            lambda tp, p: verb(
                touchpoint=tp,
                days=None,
                start=p.period_start,
                end=_period_end(p.period_start, f.grain, f.end),
            ),
            alert_days,
            minimum,
            cat.touchpoints,
            f.grain,
        )
    if page in manager_pages.NAMES:
        ctx.update(manager_pages.context(cur, page, f, verb))
    if page == "complaints":
        ctx.update(complaint_drivers.context(cur, f, ctx["previous"]))
    if page == "verbatims":
        vp = verbatims.verbatim_page(cur, f)
        total, mentions = counts(cur, f) if vp.posts else (0, 0)
        ctx["total"], ctx["mention_total"], ctx["verbatims"] = total, mentions, vp.posts
        ctx["pager"] = vp
        ctx["per_page"] = verbatims.VERBATIMS_PER_PAGE
        ctx["csv_url"] = "/verbatims.csv?" + f.query(page=1)
        ctx["xlsx_url"] = "/verbatims.xlsx?" + f.query(page=1)
    if link:
        ctx["drill"] = drill_down(cur, f, cat, ctx.get("scores") if not f.category else None)
    return ctx


def _period_end(start, grain: str, limit):
    end = filters.period_last(start, grain)
    return min(end, limit) if limit else end


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    snapshot = Snapshot(settings.warehouse)
    env = templates()
    cached: dict = {}  # the catalog of the current snapshot: it changes only when one is published
    counted: OrderedDict = OrderedDict()  # verbatim counts per (snapshot, filter), newest last

    def cached_catalog(cur) -> filters.Catalog:
        key = snapshot._key  # set when the cursor was opened; a new snapshot has a new key
        if cached.get("key") != key or key is None:
            cached.update(key=key, catalog=catalog.catalog(cur))
        return cached["catalog"]

    def counts(cur, f: filters.Filters) -> tuple[int, int]:
        """(posts, mentions) matching `f`, counted once per snapshot and filter: the pages of
        one filter (page, cursor, sort) share it, so paging never counts again."""
        same = replace(f, page=1, sort="newest", after=None, before=None, problems=())
        key = (snapshot._key, same)
        if key[0] is None or key not in counted:
            counted[key] = verbatims.verbatim_counts(cur, f)
            while len(counted) > COUNTS_CACHED:
                counted.popitem(last=False)
        counted.move_to_end(key)
        return counted[key]

    def render(name: str, ctx: dict, status: int = 200) -> HTMLResponse:
        html = env.get_template(name).render(**ctx)
        return HTMLResponse(html, status_code=status, headers=_headers())

    def page_handler(page: str):
        def handler(request: Request) -> Response:
            started = time.perf_counter()
            try:
                with snapshot.cursor() as cur:
                    cat = cached_catalog(cur)
                    default = cat.default_brand
                    f = filters.parse(request.query_params, cat, default_brand=default)
                    attributes.narrow(cur, f)  # review attributes: this cursor's tables
                    ctx = build_context(cur, settings, page, f, cat, counts=counts)
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

    def export(kind: str):
        """The verbatims of the current filter as CSV (formula prefixes neutralised) or as a
        workbook whose cells are typed text (`exports.py`)."""

        def handler(request: Request) -> Response:
            try:
                with snapshot.cursor() as cur:
                    cat = cached_catalog(cur)
                    default = cat.default_brand
                    f = filters.parse(request.query_params, cat, default_brand=default)
                    attributes.narrow(cur, f)
                    body = exports.csv_text(cur, f) if kind == "csv" else exports.xlsx_bytes(cur, f)
            except WarehouseMissing:
                return PlainTextResponse("no published warehouse yet", 503, headers=_headers())
            name = "".join(ch for ch in (f.brand or "none") if ch.isalnum())
            headers = {
                **_headers(),
                "Content-Disposition": f'attachment; filename="verbatims-{name}.{kind}"',
            }
            return Response(body, media_type=EXPORT_TYPES[kind], headers=headers)

        handler.__name__ = f"export_{kind}"
        return handler

    def export_exclusions(request: Request) -> Response:
        """v_exclusions as CSV: the posts left out of every number, per brand x day x reason."""
        try:
            with snapshot.cursor() as cur:
                rows = catalog.exclusion_rows(cur)
        except WarehouseMissing:
            return PlainTextResponse("no published warehouse yet", 503, headers=_headers())
        buf = io.StringIO()
        csv.writer(buf).writerows([catalog.EXCLUSION_COLUMNS, *rows])
        headers = {**_headers(), "Content-Disposition": 'attachment; filename="exclusions.csv"'}
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)

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
        Route("/verbatims.csv", export("csv")),
        Route("/verbatims.xlsx", export("xlsx")),
        Route("/exclusions.csv", export_exclusions),
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
