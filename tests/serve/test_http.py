"""Every route and the report, over HTTP (no browser): content, numbers, hostile input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from opinion.cli import main
from opinion.config import Settings
from opinion.insights.stats import wilson
from opinion.serve.app import create_app

from .ui_fixture import HOSTILE_TEXT, build_ui_warehouse

ROUTES = [
    "/",
    "/map",
    "/competitors",
    "/trends",
    "/verbatims",
    "/alerts",
    "/drivers",
    "/complaints",
]
HOSTILE = ["' OR 1=1 --", "x" * 10_000, "<script>alert(1)</script>", "United'; DROP TABLE posts;--",
           "%00", "../../etc/passwd", "ü" * 300]  # fmt: skip
PARAMS = ["brand", "touchpoint", "category", "polarity", "from", "to", "days", "page", "grain",
          "aspect", "q", "sort", "since", "until", "after", "before"]  # fmt: skip


@pytest.fixture(scope="module")
def client(ui_warehouse):
    return TestClient(create_app(Settings.from_env(warehouse=ui_warehouse)))


def sql(path: Path, query: str, params=()):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(query, params).fetchall()


def external_refs(html: str) -> list[str]:
    """URLs the page would load or link to, other than links to source posts."""
    refs = re.findall(r"""(?:src|href|action|poster|data)\s*=\s*["']?([^"'\s>]+)""", html)
    refs += re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    refs += re.findall(r"@import\s+['\"]?([^'\";]+)", html)
    return [
        r
        for r in refs
        if re.match(r"(?i)(https?:)?//", r)
        and not r.startswith("https://twitter.com/i/web/status/")
    ]


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_renders_for_united(client, route):
    r = client.get(route, params={"brand": "United"})
    assert r.status_code == 200
    assert "United" in r.text
    assert "Content-Security-Policy" in r.headers
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert external_refs(r.text) == []
    assert "Traceback" not in r.text


def test_healthz_static_and_404(client):
    assert client.get("/healthz").text == "ok"
    assert client.get("/static/app.js").status_code == 200
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "No such page" in r.text


def test_overview_numbers_match_the_warehouse(client, ui_warehouse):
    r = client.get("/", params={"brand": "United"})
    (n, pos, neg), = sql(
        ui_warehouse,
        "SELECT count(*), count(*) FILTER (WHERE polarity = 'positive'),"
        " count(*) FILTER (WHERE polarity = 'negative') FROM v_verbatims WHERE brand = 'United'",
    )  # fmt: skip
    assert f'id="kpi-mentions">{n}<' in r.text
    assert f'id="kpi-net">{100 * (pos - neg) / n:+.0f}<' in r.text
    # one row per touchpoint, with its mention count from agg_daily
    rows = sql(ui_warehouse, "SELECT touchpoint, sum(mentions) FROM agg_daily"
               " WHERE brand = 'United' GROUP BY 1")  # fmt: skip
    for tp, m in rows:
        assert re.search(rf'data-touchpoint="{tp}">.*?<td class="num">{m}</td>', r.text, re.S)
    assert "insufficient data" in r.text  # small touchpoints in the fixture
    assert "Emerging issues" in r.text and "baggage" in r.text


def test_wilson_interval_known_values():
    p, lo, hi = wilson(8, 2)
    assert p == 0.8
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 0) == (None, None, None)


def test_period_filter_limits_numbers_and_verbatims(client, ui_warehouse):
    (n,), = sql(ui_warehouse, "SELECT sum(mentions) FROM agg_daily WHERE brand = 'United'"
                " AND day BETWEEN DATE '2015-02-22' AND DATE '2015-02-23'")  # fmt: skip
    r = client.get("/", params={"brand": "United", "from": "2015-02-22", "to": "2015-02-23"})
    assert f'id="kpi-mentions">{n}<' in r.text
    r = client.get("/verbatims", params={"brand": "United", "from": "2015-02-22",
                                          "to": "2015-02-22"})  # fmt: skip
    days = re.findall(r"· (\d{4}-\d\d-\d\d) \d\d:\d\d UTC", r.text)
    assert days and set(days) == {"2015-02-22"}


def test_days_filter_counts_back_from_the_newest_day(client):
    r = client.get("/", params={"brand": "United", "days": "2"})
    assert "2015-02-23 to 2015-02-24" in r.text


def test_verbatims_highlight_the_aspect_span(client, ui_warehouse):
    r = client.get("/verbatims", params={"brand": "United", "touchpoint": "baggage"})
    # every aspect of a post is highlighted; the ones matching the filter carry `hit`
    marks = re.findall(r'<mark class="(\w+)( hit)?"[^>]*>([^<]*)</mark>', r.text)
    assert marks and any(hit for _, hit, _ in marks) and any(not hit for _, hit, _ in marks)
    query = "SELECT DISTINCT term, touchpoint = 'baggage' FROM v_verbatims WHERE brand = 'United'"
    terms = {(t.lower(), bool(tp)) for t, tp in sql(ui_warehouse, query)}
    for polarity, hit, span in marks:
        assert polarity in ("positive", "negative", "neutral")
        assert (span.lower(), bool(hit)) in terms
    assert 'href="https://twitter.com/i/web/status/' in r.text


def test_stored_text_is_escaped(client):
    r = client.get("/verbatims", params={"brand": "United", "from": "2015-02-23",
                                          "to": "2015-02-23", "touchpoint": "baggage"})  # fmt: skip
    assert "<script>window" not in r.text
    assert "&lt;script&gt;window.__xss = &#34;x&#34;&lt;/script&gt;" in r.text
    assert "&lt;b&gt;lost&lt;/b&gt; &amp; nobody" in r.text
    assert HOSTILE_TEXT not in r.text


def test_filters_prefill_verbatims_links(client):
    r = client.get("/", params={"brand": "United"})
    assert "/verbatims?brand=United&amp;touchpoint=baggage" in r.text
    r = client.get("/map", params={"brand": "United"})
    assert "/verbatims?brand=United&amp;category=" in r.text
    r = client.get("/trends", params={"brand": "United"})
    assert re.search(r"/verbatims\?brand=United&amp;touchpoint=\w+&amp;from=2015-02-\d\d", r.text)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("param", PARAMS)
def test_hostile_filter_values_never_break_or_leak(client, route, param):
    for value in HOSTILE:
        r = client.get(route, params={"brand": "United", param: value})
        assert r.status_code == 200, (route, param, value[:20])
        assert "Traceback" not in r.text and "Error:" not in r.text
        assert "duckdb" not in r.text.lower() and "catalog" not in r.text.lower()
        assert "x" * 200 not in r.text  # echoed back only truncated
        assert "<script>alert(1)" not in r.text


def test_unknown_brand_is_a_clear_empty_state(client):
    for route in ROUTES:
        r = client.get(route, params={"brand": "' OR 1=1 --"})
        assert r.status_code == 200
        assert "No data for brand “&#39; OR 1=1 --”" in r.text
        assert 'id="empty"' in r.text
        assert "<li class=" not in r.text  # no verbatims leaked


def test_unknown_touchpoint_shows_no_verbatims(client):
    r = client.get("/verbatims", params={"brand": "United", "touchpoint": "x' OR '1'='1"})
    assert 'id="empty"' in r.text and "<mark" not in r.text


def test_snapshot_swap_is_picked_up_without_restart(tmp_path):
    path = build_ui_warehouse(tmp_path / "opinion.duckdb", rows=300, step=40)
    client = TestClient(create_app(Settings.from_env(warehouse=path)))
    before = client.get("/", params={"brand": "United"}).text
    m1 = re.search(r'id="kpi-mentions">(\d+)<', before).group(1)
    # a load publishes a new snapshot with os.replace while the app holds the old one open
    build_ui_warehouse(tmp_path / "opinion.duckdb", rows=1200, step=12)
    after = client.get("/", params={"brand": "United"}).text
    m2 = re.search(r'id="kpi-mentions">(\d+)<', after).group(1)
    assert int(m2) > int(m1)


def test_missing_warehouse_says_so(tmp_path):
    client = TestClient(create_app(Settings.from_env(warehouse=tmp_path / "none.duckdb")))
    r = client.get("/")
    assert r.status_code == 503 and "No published warehouse yet" in r.text


def test_live_server_answers_every_route(server):
    for route in ROUTES:
        r = httpx.get(server.url + route, params={"brand": "United"}, timeout=10)
        assert r.status_code == 200 and "United" in r.text


# ---------------------------------------------------------------- report


def test_report_is_self_contained(ui_warehouse, tmp_path):
    out = tmp_path / "report.html"
    res = CliRunner().invoke(
        main, ["report", "--brand", "United", "--out", str(out), "--warehouse", str(ui_warehouse)]
    )
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert external_refs(html) == []
    assert "<script" not in html and "<link" not in html and "<img" not in html
    # a quoted tweet may contain a URL as text (escaped, never a link): look outside them
    assert "http://" not in re.sub(r'<div class="text">.*?</div>', "", html, flags=re.S)
    for needle in ("Scorecard by touchpoint", "Importance × satisfaction", "Versus competitors",
                   "executive summary", "What customers say", "<svg", "<mark"):  # fmt: skip
        assert needle in html
    assert "/verbatims?" not in html  # no links back to a server


def test_report_period_and_days(ui_warehouse, tmp_path):
    out = tmp_path / "r.html"
    args = ["report", "--brand", "United", "--out", str(out), "--warehouse", str(ui_warehouse)]
    res = CliRunner().invoke(main, [*args, "--period", "2015-02-20:2015-02-21"])
    assert res.exit_code == 0, res.output
    assert "2015-02-20 to 2015-02-21" in out.read_text()
    res = CliRunner().invoke(main, [*args, "--days", "3"])
    assert res.exit_code == 0 and "2015-02-22 to 2015-02-24" in out.read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--brand", "Nope"], "unknown brand 'Nope'"),
        (["--brand", "United", "--period", "yesterday"], "--period must be FROM:TO"),
        (["--brand", "United", "--period", "2015-02-24:2015-02-01"], "starts after it ends"),
        (["--brand", "United", "--period", "2015-01-01:2015-01-02", "--days", "3"], "not both"),
        (["--brand", "United", "--period", "2014-01-01:2014-01-31"], "holds no data"),
    ],
)
def test_report_bad_input_is_one_line(ui_warehouse, tmp_path, extra, message):
    args = ["report", "--out", str(tmp_path / "r.html"), "--warehouse", str(ui_warehouse)]
    res = CliRunner().invoke(main, [*args, *extra])
    assert res.exit_code != 0
    assert message in res.output and "Traceback" not in res.output


def test_report_pdf_without_chromium_is_a_clear_error(ui_warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("OPINION_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))
    res = CliRunner().invoke(main, ["report", "--brand", "United", "--out",
                                    str(tmp_path / "r.html"), "--pdf", "--warehouse",
                                    str(ui_warehouse)])  # fmt: skip
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "Error: --pdf needs Chromium (`chromium` on PATH or OPINION_CHROMIUM); "
        "install it or drop --pdf"
    ]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_report_pdf_with_chromium(ui_warehouse, artifacts):
    out = artifacts / "report-united.html"
    res = CliRunner().invoke(
        main,
        ["report", "--brand", "United", "--out", str(out), "--pdf", "--warehouse",
         str(ui_warehouse)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000


def test_cli_commands_have_help():
    for cmd in ("serve", "report"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "--warehouse" in res.output


def test_competitor_gap_needs_enough_mentions_on_both_sides(client, ui_warehouse):
    (n,), = sql(ui_warehouse, "SELECT sum(mentions) FROM agg_daily"
                " WHERE brand = 'United' AND touchpoint = 'check_in'")  # fmt: skip
    assert n < 10  # below the fixture's min_mentions
    r = client.get("/competitors", params={"brand": "United"})
    table = r.text[r.text.index('id="benchmark"') :]
    row = re.search(r"touchpoint=check_in.*?</tr>", table, re.S).group(0)
    assert "insufficient data" in row and "clear" not in row
