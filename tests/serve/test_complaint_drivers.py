"""The "complaint drivers" page over HTTP: negative posts by primary touchpoint and category,
drill-down to the posts, trend; numbers checked against the warehouse.

The UI-fixture warehouse has no model output, so each negative post's root cause is set here
to the touchpoint and category of its first negative mention (made up for the UI, like the
fixture's mentions); the page must count exactly what the warehouse holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient

from opinion.config import Settings
from opinion.serve.app import create_app


@pytest.fixture(scope="module")
def drivers_warehouse(ui_warehouse, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("drivers") / "opinion.duckdb"
    shutil.copy(ui_warehouse, path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            UPDATE posts AS p SET primary_touchpoint = m.touchpoint,
                   primary_category = m.category, primary_confidence = 0.8
            FROM (SELECT post_id, arg_min(touchpoint, start) AS touchpoint,
                         arg_min(category, start) AS category
                  FROM mentions WHERE polarity = 'negative' AND category <> 'other'
                  GROUP BY post_id) m
            WHERE p.post_id = m.post_id AND p.sentiment = 'negative'
            """
        )
        con.execute("UPDATE posts SET sentiment = 'negative' WHERE primary_touchpoint IS NOT NULL")
    return path


@pytest.fixture(scope="module")
def client(drivers_warehouse):
    return TestClient(create_app(Settings.from_env(warehouse=drivers_warehouse)))


def counts(path: Path, brand: str, key: str, touchpoint: str | None = None) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            f"SELECT {key}, count(*) FROM posts WHERE brand = ? AND sentiment = 'negative' "
            "AND dup_of IS NULL AND primary_touchpoint IS NOT NULL "
            "AND (? IS NULL OR primary_touchpoint = ?) GROUP BY 1",
            [brand, touchpoint, touchpoint],
        ).fetchall()
    return dict(rows)


def table(html: str) -> dict[str, int]:
    return {
        label: int(n)
        for label, n in re.findall(
            r'<tr data-driver="([^"]+)">.*?<td class="num">(?:<span[^>]*>)?(\d+)', html, re.S
        )
    }


def test_drivers_page_counts_negative_posts_by_root_cause(client, drivers_warehouse):
    r = client.get("/complaints", params={"brand": "United", "days": 3660})
    assert r.status_code == 200 and "Traceback" not in r.text
    assert 'id="nav-drivers"' in r.text and "complaint drivers" in r.text
    want = counts(drivers_warehouse, "United", "primary_touchpoint")
    assert want, "the fixture has negative United posts with a root cause"
    assert table(r.text) == want
    total = sum(want.values())
    assert f"{total} negative posts by touchpoint" in r.text
    top = max(want, key=want.get)
    share = re.search(
        rf'data-driver="{top}">.*?</td>\s*<td[^>]*>.*?</td>\s*<td class="num">(\d+)%', r.text, re.S
    )
    assert share and int(share.group(1)) == round(100 * want[top] / total)


def test_drivers_drill_down_to_categories_and_posts(client, drivers_warehouse):
    want = counts(drivers_warehouse, "United", "primary_touchpoint")
    top = max(want, key=want.get)
    r = client.get("/complaints", params={"brand": "United", "days": 3660, "touchpoint": top})
    assert r.status_code == 200
    cats = counts(drivers_warehouse, "United", "primary_category", top)
    assert table(r.text) == cats
    cat = max(cats, key=cats.get)
    r = client.get(
        "/complaints", params={"brand": "United", "days": 3660, "touchpoint": top, "category": cat}
    )
    assert r.status_code == 200
    posts = re.findall(r'<li data-post="([^"]+)"', r.text)
    assert 0 < len(posts) <= 20 and len(set(posts)) == len(posts)
    with duckdb.connect(str(drivers_warehouse), read_only=True) as con:
        ok = {
            p
            for (p,) in con.execute(
                "SELECT post_id FROM posts WHERE primary_category = ? AND sentiment = 'negative'",
                [cat],
            ).fetchall()
        }
    assert set(posts) <= ok


def test_drivers_trend_and_empty_states(client):
    r = client.get("/complaints", params={"brand": "United", "days": 3660})
    assert "Share of negative posts over time" in r.text and "<polyline" in r.text
    r = client.get("/complaints", params={"brand": "No Such Brand"})
    assert r.status_code == 200 and 'id="empty"' in r.text
    r = client.get("/complaints", params={"brand": "United", "touchpoint": "<script>"})
    assert (
        r.status_code == 200 and "<script>" not in r.text.split("<main>")[1].split("</footer>")[0]
    )


def test_an_implicit_mention_shows_its_category_on_cards_and_in_the_csv():
    from opinion.serve.verbatims import Mention

    implicit = Mention("m1", None, None, None, None, "negative", "delays", "punctuality", True)
    assert (implicit.label, implicit.detail) == ("delays", "(negative, implicit)")
    assert implicit.csv() == "delays (negative, implicit)"
    named = Mention("m2", "seat", "seats", 4, 9, "negative", "seat", "inflight", True)
    assert (named.label, named.detail, named.csv()) == (
        "seat",
        "(negative, seat)",
        "seat (negative)",
    )
