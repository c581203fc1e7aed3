"""The issue-26 dashboard pages on copies of the UI fixture warehouse: the alert history
(`/alerts`, newest first, each linked to its window's posts), the drivers of the rating
(`/drivers`, with n and intervals, greyed under the minimum sample) and the competitor picker
(`?vs=Delta,Southwest` and the multi-select)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
from starlette.testclient import TestClient

from opinion.config import Settings
from opinion.serve.app import create_app


def _client(path) -> TestClient:
    return TestClient(create_app(Settings.from_env(warehouse=path)))


@pytest.fixture(scope="module")
def alerting(ui_warehouse, tmp_path_factory):
    """A copy with three flagged windows of United (two days apart) and one unflagged."""
    wh = tmp_path_factory.mktemp("alerts") / "opinion.duckdb"
    shutil.copy(ui_warehouse, wh)
    end = datetime(2015, 2, 24, 19, 0, tzinfo=UTC)
    rows = [
        ("United", "punctuality", "delays", end - timedelta(days=2), 40, 12.5, True, 5),
        ("United", "baggage", "lost_delayed_bags", end, 25, 6.0, True, 4),
        ("United", "customer_service", "agents", end - timedelta(days=1), 30, 9.0, True, 3),
        ("United", "booking", "reservations", end, 9, 8.5, False, None),
    ]
    with duckdb.connect(str(wh)) as con:
        con.execute("DELETE FROM issue_windows")
        for brand, tp, cat, until, neg, base, flagged, sev in rows:
            con.execute(
                "INSERT INTO issue_windows (brand, touchpoint, category, window_start, "
                "window_end, negatives, baseline_mean, baseline_windows, z_score, p_value, "
                "flagged, severity, persistence, is_latest) "
                "VALUES (?,?,?,?,?,?,?,3,4.2,1e-5,?,?,2,?)",
                [brand, tp, cat, until - timedelta(days=1), until, neg, base, flagged, sev,
                 until == end],
            )  # fmt: skip
    return wh


def test_alert_history_newest_first_each_linked_to_its_posts(alerting):
    page = _client(alerting).get("/alerts", params={"brand": "United"})
    assert page.status_code == 200
    table = page.text[page.text.index('id="alert-history"') :]
    windows = re.findall(r"<tr class=\"alert-\w+\"><td>([^<]+)</td>", table)
    assert len(windows) == 3  # the unflagged window is not an alert
    assert windows == sorted(windows, reverse=True)
    assert "reservations" not in table
    links = re.findall(r'<a href="([^"]+)" class="alert-posts">', table)
    assert len(links) == 3
    q = parse_qs(urlsplit(links[0].replace("&amp;", "&")).query)
    assert q["category"] == ["lost_delayed_bags"] and q["polarity"] == ["negative"]
    assert q["until"][0].startswith("2015-02-24T19:00") and q["since"][0].startswith("2015-02-23")
    follow = _client(alerting).get(links[0].replace("&amp;", "&"))
    assert follow.status_code == 200 and "lost delayed bags" in follow.text


def test_alert_history_empty_and_scoped(alerting, ui_warehouse):
    c = _client(alerting)
    scoped = c.get("/alerts", params={"brand": "United", "touchpoint": "baggage"}).text
    assert scoped.count('class="alert-posts"') == 1
    early = c.get("/alerts", params={"brand": "United", "from": "2015-02-17", "to": "2015-02-20"})
    assert 'id="no-alerts"' in early.text
    assert "/alerts?" in c.get("/", params={"brand": "United"}).text  # in the navigation


@pytest.fixture(scope="module")
def rated(ui_warehouse, tmp_path_factory):
    """A copy where United's posts carry a 1–10 rating that follows their sentiment about
    delays (a driver) and nothing else."""
    wh = tmp_path_factory.mktemp("rated") / "opinion.duckdb"
    shutil.copy(ui_warehouse, wh)
    with duckdb.connect(str(wh)) as con:
        con.execute(
            """
            UPDATE posts SET rating_value = r, rating_scale = '1-10', rating_norm = (r - 1) / 9
            FROM (
                SELECT p.post_id,
                       5 + 4 * coalesce(avg(CASE m.polarity WHEN 'positive' THEN 1
                                                  WHEN 'negative' THEN -1 ELSE 0 END)
                                        FILTER (WHERE m.category = 'delays'), 0)
                         + (hash(p.post_id) % 3) - 1 AS r
                FROM posts p LEFT JOIN mentions m USING (post_id)
                WHERE p.brand = 'United' GROUP BY p.post_id
            ) x WHERE posts.post_id = x.post_id
            """
        )
    return wh


def test_drivers_page_ranks_by_slope_with_n_and_intervals(rated):
    page = _client(rated).get("/drivers", params={"brand": "United"})
    assert page.status_code == 200
    with duckdb.connect(str(rated), read_only=True) as con:
        truth = con.execute(
            "SELECT category, n, opinions, slope, slope_low, slope_high, sufficient "
            "FROM v_rating_drivers WHERE brand = 'United'"
        ).fetchall()
    solid = sorted((r for r in truth if r[6]), key=lambda r: -r[3])
    thin = [r for r in truth if not r[6]]
    assert solid and thin  # both kinds are on the page, or the test proves nothing
    assert solid[0][0] == "delays" and solid[0][4] > 0  # the driver built in, beyond chance
    rows = re.findall(r'<tr class="driver( beyond)?">(.*?)</tr>', page.text, re.S)
    assert len(rows) == len(solid)
    first = rows[0][1]
    assert ">delays</a>" in first and f"{solid[0][3]:+.1f}" in first
    assert f"{solid[0][4]:+.1f} … {solid[0][5]:+.1f}" in first and f">{solid[0][1]}<" in first
    assert rows[0][0] == " beyond"
    greyed = re.findall(r'<tr class="driver thin insufficient">(.*?)</tr>', page.text, re.S)
    assert len(greyed) == len(thin)
    assert all("too few opinions (n=" in g for g in greyed)


def test_drivers_without_ratings_says_so(ui_warehouse):
    page = _client(ui_warehouse).get("/drivers", params={"brand": "United"})
    assert page.status_code == 200 and 'id="no-drivers"' in page.text


def test_competitor_picker(ui_warehouse):
    c = _client(ui_warehouse)
    default = c.get("/competitors", params={"brand": "United"}).text
    picked = c.get("/competitors", params={"brand": "United", "vs": "Delta,Southwest"}).text
    assert "Competitor set: Delta, Southwest." in picked
    assert "Competitor set: Delta, Southwest." not in default
    multi = c.get("/competitors?brand=United&vs=Southwest&vs=American").text
    assert "Competitor set: Southwest, American." in multi  # in the order picked
    picker = multi[
        multi.index('id="vs-picker"') : multi.index("</form>", multi.index('id="vs-picker"'))
    ]
    selected = re.findall(r'<option value="([^"]+)" selected>', picker)
    assert sorted(selected) == ["American", "Southwest"]
    odd = c.get("/competitors", params={"brand": "United", "vs": "Nope,United,Delta"}).text
    assert "No data for competitor “Nope”" in odd and "Competitor set: Delta." in odd
    # the choice travels with the navigation
    assert "vs=Delta" in re.search(
        r'id="nav-overview"[^>]*|href="[^"]*"[^>]*id="nav-overview"', odd
    ).group(0)


def test_landing_brand_is_the_busiest_and_brand_linking_is_explained(ui_warehouse):
    with duckdb.connect(str(ui_warehouse), read_only=True) as con:
        ranked = con.execute(
            "SELECT brand FROM agg_daily GROUP BY brand ORDER BY sum(mentions) DESC, brand"
        ).fetchall()
        alphabetical = sorted(b for (b,) in ranked)
    busiest = ranked[0][0]
    assert busiest != alphabetical[0]  # else the test could not tell the two rules apart
    page = _client(ui_warehouse).get("/").text
    assert f'<option value="{busiest}" selected>' in page
    assert 'id="brand-linking"' in page and "not from the source's own label" in page
