"""The executive report (issue 26): a one-page summary first, the trend chart of the top
touchpoints only, and the most representative posts of the top categories, on the real UI
fixture warehouse; the PDF printed by Chromium has no near-empty page in the middle."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date

import duckdb
import pytest

from opinion.config import Settings
from opinion.serve import summary
from opinion.serve.report import render_report, write_report
from opinion.serve.scorecard import Score


def _settings(warehouse) -> Settings:
    return Settings.from_env(warehouse=warehouse)


@pytest.fixture(scope="module")
def report(ui_warehouse) -> str:
    return render_report(_settings(ui_warehouse), "United")


def test_summary_comes_first_with_its_four_parts(report):
    head = report[: report.index('<h1 class="details">')]
    for part in ('id="headline"', 'id="top-fixes"', 'id="changes"', 'id="summary-alerts"',
                 'id="summary-sov"'):  # fmt: skip
        assert part in head
    assert head.index("executive summary") < head.index('id="top-fixes"')
    assert report.index('id="summary"') < report.index('id="scorecard"')
    headline = re.search(r'id="headline">(.*?)</p>', report, re.S).group(1)
    assert headline.startswith("United: net sentiment") and "aspect mentions" in headline


def test_top_fixes_are_the_first_three_of_fix_first(report):
    fixes = re.findall(r"<li><strong>([^<]+)</strong>: (\d+) negative mentions", report)
    fix_line = re.search(r"<strong>Fix first:</strong>(.*?)</p>", report, re.S)
    assert fixes, "the fixture brand has categories to fix"
    assert len(fixes) <= 3
    listed = [name.strip().split(" (")[0] for name in fix_line.group(1).split("),")]
    assert [name for name, _ in fixes] == listed[: len(fixes)]
    assert all(name != "other" for name, _ in fixes)


def test_trend_chart_shows_only_the_top_touchpoints(report, ui_warehouse):
    chart = report[report.index("Net sentiment over time") :]
    chart = chart[: chart.index("</svg>")]
    with duckdb.connect(str(ui_warehouse), read_only=True) as con:
        touchpoints = con.execute(
            "SELECT count(DISTINCT touchpoint) FROM agg_daily WHERE brand = 'United'"
        ).fetchone()[0]
    assert touchpoints > summary.TOP_TREND_TOUCHPOINTS  # else the limit proves nothing
    n = int(re.search(r"the top (\d+) touchpoints", report).group(1))
    assert n == summary.TOP_TREND_TOUCHPOINTS
    legend = re.findall(r'class="legend"', chart)
    assert 0 < len(legend) <= summary.TOP_TREND_TOUCHPOINTS
    assert "other" not in set(re.findall(r'data-series="([^"]+)"', chart))


def test_quotes_are_representative_not_latest(report, ui_warehouse):
    """Each quoted post has a matching mention of its category with that polarity, no post is
    quoted twice, no label reads "None", and the first quote of a category is at least as pure
    (share of its mentions that are the category with that polarity) as any other post."""
    assert "None (" not in report and ">None<" not in report
    quotes = report[report.index('id="quotes-negative"') : report.index("<footer")]
    posts = re.findall(r'data-post="([^"]+)"', quotes)
    assert posts and len(posts) == len(set(posts))
    groups = re.findall(r'<h3>([^<]+?) <span class="neu">· \d+ (negative|positive)', quotes)
    assert groups
    with duckdb.connect(str(ui_warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT post_id, category, polarity, aspect FROM verbatims WHERE brand = 'United'"
        ).fetchall()
    by_post: dict[str, list] = {}
    for pid, cat, pol, aspect in rows:
        by_post.setdefault(pid, []).append((cat, pol, aspect))
    sections = re.split(r"<h3>", quotes)[1:]
    for (label, pol), section in zip(groups, sections, strict=True):
        cat = label.strip().replace(" ", "_")
        quoted = re.findall(r'data-post="([^"]+)"', section)
        assert quoted
        for pid in quoted:
            assert any(c == cat and p == pol for c, p, _ in by_post[pid]), (pid, cat, pol)

        def purity(pid, cat=cat, pol=pol):
            ms = by_post[pid]
            return sum(c == cat and p == pol for c, p, _ in ms) / len(ms)

        def explicit(pid, cat=cat, pol=pol):
            return any(c == cat and p == pol and a is not None for c, p, a in by_post[pid])

        earlier = set(posts[: posts.index(quoted[0])])  # quoted already: never twice
        candidates = [
            pid for pid, ms in by_post.items()
            if pid not in earlier and any(c == cat and p == pol for c, p, _ in ms)
        ]  # fmt: skip
        best = max((explicit(pid), purity(pid)) for pid in candidates)
        assert (explicit(quoted[0]), purity(quoted[0])) == best


def test_changes_only_beyond_chance():
    quiet = Score("x", 100, 50, 40, 10, trend=2.0, min_mentions=30)
    quiet.trend_z = 0.5
    loud = Score("baggage", 400, 100, 250, 50, trend=-12.0, min_mentions=30, category="baggage")
    loud.trend_z = -3.2
    out = summary.changes(quiet, [], [loud])
    assert [c.scope for c in out] == ["baggage"]
    assert out[0].text == "baggage worsened -12 pts within the period (z -3.2)"


@pytest.mark.skipif(shutil.which("chromium") is None or shutil.which("pdftotext") is None,
                    reason="chromium or pdftotext (poppler-utils) is not installed")  # fmt: skip
def test_pdf_summary_is_page_one_and_no_page_is_near_empty(ui_warehouse, tmp_path):
    out = tmp_path / "r.html"
    write_report(_settings(ui_warehouse), "United", out, pdf=True)
    pdf = out.with_suffix(".pdf")
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout.split("\f")  # fmt: skip
    pages = [p for p in pages if p.strip()]
    assert "executive summary" in pages[0] and "things to fix" in pages[0]
    assert "Share of voice" in pages[0] and "Details" not in pages[0]
    lines = [len([ln for ln in p.splitlines() if ln.strip()]) for p in pages]
    # every page but the last carries at least a third of a full page's lines
    assert all(n >= max(lines) / 3 for n in lines[:-1]), lines


def test_representative_on_an_unknown_category_is_empty(ui_warehouse):
    from opinion.serve.db import Snapshot
    from opinion.serve.filters import Filters

    snap = Snapshot(ui_warehouse)
    try:
        with snap.cursor() as cur:
            f = Filters(brand="United", start=date(2015, 2, 1), end=date(2015, 3, 1))
            ghost = Score("no_such_category", 0, 0, 0, 0)
            assert summary.representative(cur, f, [ghost], "negative") == []
    finally:
        snap.close()
