"""Reviews through collect → extract → load: the rating on its scale, the title read with the
text, the brand the review was filed under, and the review indices computed from them."""

from __future__ import annotations

import duckdb
import pytest

from opinion.pipeline import collect_file, extract, load
from opinion.sources.files import AIRLINE_REVIEWS, FileSourceConfig
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
    assert title == "Crew were wonderful" and text.startswith("Trip 0. The seat")
    assert {r[0] for r in rows} == {"Good Air", "Bad Air", "Mid Air"}


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
