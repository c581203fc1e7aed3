"""Review attributes (cabin, traveller type, route, verified) from the file mapping to posts
columns, and as filters on every dashboard page: a copy of the UI fixture warehouse whose
United posts get attributes, every number checked against a count made here."""

from __future__ import annotations

import re
import shutil

import duckdb
import pytest
from starlette.testclient import TestClient

from opinion.config import Settings
from opinion.serve.app import create_app
from opinion.sources.files import AIRLINE_REVIEWS, FileSourceConfig, read_file

ELIGIBLE_BUSINESS = """
SELECT count(*) FROM mentions m JOIN posts p USING (post_id)
WHERE p.dup_of IS NULL AND coalesce(p.spam_score, 0) < 0.5 AND p.brand = 'United'
  AND p.created_at IS NOT NULL AND p.cabin = 'Business Class'
"""


@pytest.fixture(scope="module")
def attributed(ui_warehouse, tmp_path_factory):
    wh = tmp_path_factory.mktemp("attrs") / "opinion.duckdb"
    shutil.copy(ui_warehouse, wh)
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "UPDATE posts SET cabin = CASE WHEN hash(post_id) % 3 = 0 THEN 'Business Class' "
            "ELSE 'Economy Class' END, traveller_type = 'Solo Leisure', "
            "route = CASE WHEN hash(post_id) % 2 = 0 THEN 'London to Dublin' ELSE 'A to B' END, "
            "verified = hash(post_id) % 2 = 0 WHERE brand = 'United'"
        )
        expected = con.execute(ELIGIBLE_BUSINESS).fetchone()[0]
        business = {r[0] for r in con.execute(
            "SELECT post_id FROM posts WHERE cabin = 'Business Class'").fetchall()}  # fmt: skip
    return wh, expected, business


def test_every_page_follows_the_cabin_filter(attributed):
    wh, expected, business = attributed
    c = TestClient(create_app(Settings.from_env(warehouse=wh)))
    params = {"brand": "United", "cabin": "Business Class"}
    overview = c.get("/", params=params).text
    assert '<option value="Business Class" selected>' in overview
    kpi = re.search(r'id="kpi-mentions">(\d+)<', overview)
    assert kpi and int(kpi.group(1)) == expected
    everything = c.get("/", params={"brand": "United"}).text
    all_kpi = re.search(r'id="kpi-mentions">(\d+)<', everything)
    assert int(all_kpi.group(1)) > expected  # the filter changed the number
    shown = set(re.findall(r'data-post="([^"]+)"', c.get("/verbatims", params=params).text))
    assert shown and shown <= business
    for route in ("/map", "/competitors", "/trends", "/alerts", "/drivers"):
        page = c.get(route, params=params)
        assert page.status_code == 200 and '<option value="Business Class" selected>' in page.text
    csv = c.get("/verbatims.csv", params=params).text
    assert csv.count("\n") - 1 <= len(business)
    # the filter travels with the navigation
    assert "cabin=Business+Class" in overview


def test_route_verified_and_unknown_values(attributed):
    wh, _, _ = attributed
    c = TestClient(create_app(Settings.from_env(warehouse=wh)))
    dublin = c.get("/verbatims", params={"brand": "United", "route": "dublin", "verified": "yes"})
    ids = set(re.findall(r'data-post="([^"]+)"', dublin.text))
    with duckdb.connect(str(wh), read_only=True) as con:
        sql = "SELECT post_id FROM posts WHERE route ILIKE '%dublin%' AND verified"
        ok = {r[0] for r in con.execute(sql).fetchall()}
    assert ids and ids <= ok
    odd = c.get("/", params={"brand": "United", "cabin": "Cargo Hold"}).text
    assert "No data for cabin “Cargo Hold”" in odd


def test_no_attribute_selects_without_attributes(ui_warehouse):
    page = TestClient(create_app(Settings.from_env(warehouse=ui_warehouse))).get("/").text
    assert 'name="cabin"' not in page and 'name="route"' not in page


def test_airline_reviews_preset_maps_the_attributes(tmp_path):
    import csv

    # rows of our own, in the column layout the AIRLINE_REVIEWS preset reads
    columns = ["review_id", "airline", "published", "title", "text", "rating", "recommended",
               "cabin", "traveller_type", "route", "verified", "author"]  # fmt: skip
    rows = [
        ["a1", "BA", "2024-01-02", '"Fine"', "Good seat.", "8", "yes", "Business Class",
         "Couple Leisure", "Xton to Yville", "1", "Ann"],
        ["a2", "BA", "2024-01-03", "Meh", "Slow boarding.", "3", "no", "N/A", "N/A", "N/A", "0",
         "Bob"],
        ["a3", "BA", "2024-01-04", "Odd", "Text.", "5", "no", "Economy Class", "Solo Leisure",
         "A to B", "maybe", "Cy"],
    ]  # fmt: skip
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([columns, *rows])
    out = list(read_file(FileSourceConfig(path, "skytrax", AIRLINE_REVIEWS, rating_scale="1-10")))
    a1, a2, a3 = out
    assert (a1.cabin, a1.traveller_type, a1.route, a1.verified) == (
        "Business Class", "Couple Leisure", "Xton to Yville", True)  # fmt: skip
    assert (a2.cabin, a2.traveller_type, a2.route, a2.verified) == (None, None, None, False)
    assert a3.reason.startswith("bad verified:")
