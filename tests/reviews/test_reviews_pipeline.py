"""Reviews through collect → extract → load: the rating on its scale, the title read with the
text, the brand the review was filed under, and the review indices computed from them."""

from __future__ import annotations

import duckdb
import pytest

from opinion.collect.partitions import collect_file
from opinion.extract.stage import extract
from opinion.sources.files import AIRLINE_REVIEWS, FileSourceConfig
from opinion.warehouse.load import run_load as load
from tests.reviews.synthetic import write_reviews


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, engine):
    from opinion.config import Settings

    tmp = tmp_path_factory.mktemp("reviews")
    settings = Settings.from_env(
        lake_dir=tmp / "lake", warehouse=tmp / "wh" / "opinion.duckdb", state_dir=tmp / "state"
    )
    reviews, _ = write_reviews(tmp / "in", per_airline=4)
    cfg = FileSourceConfig(reviews, "skytrax", AIRLINE_REVIEWS, rating_scale="1-10")
    collected = collect_file(settings, cfg)
    extract(settings, engine)
    load(settings)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    yield settings, collected, con
    con.close()


def test_ratings_titles_and_brands_land_in_posts(loaded):
    _, collected, con = loaded
    assert (collected.posts, collected.rejected) == (12, 0)
    rows = con.execute(
        "SELECT brand, rating, rating_value, rating_scale, rating_norm, recommended, title, text "
        "FROM posts ORDER BY native_id"
    ).fetchall()
    assert len(rows) == 12
    brand, rating, value, scale, norm, rec, title, text = rows[0]
    assert (brand, rating, value, scale, rec) == ("Good Air", 5, 9.0, "1-10", True)
    assert norm == pytest.approx(8 / 9)
    assert title == "Crew were wonderful" and "The seat was very" in text
    assert {r[0] for r in rows} == {"Good Air", "Bad Air", "Mid Air"}


def test_review_attributes_land_in_posts(loaded):
    """cabin, traveller type, route and verified: from the AIRLINE_REVIEWS mapping through
    the raw and mentions lake partitions into posts columns (migration 0014)."""
    _, _, con = loaded
    rows = con.execute(
        "SELECT DISTINCT cabin, traveller_type, route, verified FROM posts"
    ).fetchall()
    assert rows == [("Economy Class", "Solo Leisure", "A to B", True)]


def test_mentions_index_title_or_text(loaded):
    _, _, con = loaded
    rows = con.execute(
        'SELECT m.in_title, m.term, m.start, m."end", p.title, p.text '
        "FROM mentions m JOIN posts p USING (post_id)"
    ).fetchall()
    assert rows, "the engine found no aspect in the reviews"
    assert any(r[0] for r in rows) and any(not r[0] for r in rows)
    for in_title, term, start, end, title, text in rows:
        source = title if in_title else text
        assert source[start:end] == term, (in_title, term, source)


def test_review_indices_view_counts_the_loaded_reviews(loaded):
    _, _, con = loaded
    rows = con.execute(
        "SELECT brand, ratings, promoters, passives, detractors, recommendations, nps, sufficient "
        "FROM v_review_indices WHERE touchpoint = 'all' AND grain = 'month' ORDER BY brand"
    ).fetchall()
    by_brand: dict[str, list[int]] = {}
    for brand, n, p, pa, d, rec, nps, sufficient in rows:
        assert nps is None and sufficient is False  # 4 reviews < the default N = 30
        acc = by_brand.setdefault(brand, [0, 0, 0, 0, 0])
        for k, v in enumerate((n, p, pa, d, rec)):
            acc[k] += v
    # Good Air: four 9s (promoters); Bad Air: four 2s; Mid Air: 3, 8, 3, 8
    assert by_brand == {
        "Bad Air": [4, 0, 0, 4, 4],
        "Good Air": [4, 4, 0, 0, 4],
        "Mid Air": [4, 0, 2, 2, 4],
    }


def test_dashboard_and_report_show_review_indices(loaded, tmp_path):
    import shutil

    import httpx

    from opinion.serve.report import render_report
    from tests.serve.conftest import Server

    settings, _, _ = loaded
    wh = tmp_path / "opinion.duckdb"  # a copy with N = 2, so the indices are shown
    shutil.copy(settings.warehouse, wh)
    with duckdb.connect(str(wh)) as c:
        c.execute("UPDATE settings_kv SET value = '2' WHERE key = 'min_mentions'")
    srv = Server(wh)
    try:
        page = httpx.get(srv.url + "/", params={"brand": "Good Air"}, timeout=30).text
    finally:
        srv.stop()
    assert 'id="review-indices"' in page and "All reviews" in page
    assert "+100" in page  # four promoters out of four: NPS-style +100
    assert "100%" in page  # all four recommend
    report = render_report(settings, "Bad Air", None, None, None)
    assert 'id="review-indices"' in report
    assert "insufficient data (4 ratings; 30 needed)" in report


def test_review_cards_mark_title_mentions_in_the_title(loaded):
    """A mention found in the title is marked in the card's title at the title's offsets, never
    inside the body at the same numbers (issue 26: "[Very good ]flight…")."""
    import html
    import re

    from starlette.testclient import TestClient

    from opinion.serve.app import create_app

    settings, _, con = loaded
    expected = con.execute(
        "SELECT p.post_id, list(m.term ORDER BY m.start) FILTER (WHERE m.in_title), "
        "list(m.term ORDER BY m.start) FILTER (WHERE NOT m.in_title) "
        "FROM posts p JOIN mentions m USING (post_id) WHERE p.brand = 'Bad Air' "
        "AND m.term IS NOT NULL AND m.start IS NOT NULL GROUP BY p.post_id"
    ).fetchall()
    assert any(t for _, t, _ in expected), "no title mention to check"
    page = TestClient(create_app(settings)).get("/verbatims", params={"brand": "Bad Air"}).text
    cards = re.findall(r'<li class="\w+" data-post="([^"]+)">(.*?)</li>', page, re.S)
    assert cards
    by_id = {pid: (t or [], b or []) for pid, t, b in expected}

    def marked(part: str) -> list[str]:
        return [html.unescape(x) for x in re.findall(r"<mark[^>]*>(.*?)</mark>", part)]

    for pid, card in cards:
        title = re.search(r'<div class="title"><strong>(.*?)</strong></div>', card, re.S)
        body = re.search(r'<div class="text">(.*?)</div>', card, re.S).group(1)
        want_title, want_body = by_id.get(pid, ([], []))
        assert (marked(title.group(1)) if title else []) == want_title
        assert marked(body) == want_body
