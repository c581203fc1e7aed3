"""Ratings on any scale, titles and recommendations, from the files source to a `Post`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from opinion.records import Post, RatingScale, RawRecord, Reject
from opinion.sources.files import AIRLINE_REVIEWS, FileSourceConfig, read_file
from tests.reviews.synthetic import write_reviews

NOW = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,low,high", [("1-5", 1, 5), ("1-10", 1, 10), ("0..10", 0, 10), ("0 – 100", 0, 100)]
)
def test_scale_parses(text, low, high):
    scale = RatingScale.parse(text)
    assert (scale.low, scale.high) == (low, high)
    assert RatingScale.parse(str(scale)) == scale


@pytest.mark.parametrize("text", ["ten", "5", "10-1", "3-3", ""])
def test_bad_scale_is_one_line_error(text):
    with pytest.raises(ValueError, match="rating scale"):
        RatingScale.parse(text)


def test_post_keeps_raw_value_scale_and_normalised():
    p = Post("s", "1", "body", NOW, rating_value=8, rating_scale="1-10", title=" Nice ")
    assert (p.rating_value, p.rating_scale, p.title) == (8.0, "1-10", "Nice")
    assert p.rating_norm == pytest.approx(7 / 9)
    assert p.rating == 4  # 1 + 4 * 7/9 = 4.11 → the 1..5 equivalent
    zero = Post("s", "2", "b", NOW, rating_value=0, rating_scale="0-10", recommended="no")
    assert (zero.rating_norm, zero.rating, zero.recommended) == (0.0, 1, False)
    top = Post("s", "3", "b", NOW, rating_value=4.5, rating_scale="1-5")
    assert (top.rating_norm, top.rating) == (0.875, 5)


def test_old_style_star_rating_still_works():
    p = Post("s", "1", "b", NOW, rating=4)
    assert (p.rating, p.rating_value, p.rating_scale, p.rating_norm) == (4, 4.0, "1-5", 0.75)
    assert Post(**{k: v for k, v in p.to_row().items()}).to_row() == p.to_row()  # idempotent
    with pytest.raises(ValueError, match="outside its scale 1-5"):
        Post("s", "1", "b", NOW, rating=9)


def _read(path, **kw):
    items = list(read_file(FileSourceConfig(path, "skytrax", AIRLINE_REVIEWS, **kw)))
    return [i for i in items if isinstance(i, RawRecord)], [
        i for i in items if isinstance(i, Reject)
    ]


def test_declared_scale_rejects_only_values_outside_it(tmp_path):
    path = tmp_path / "r.jsonl"
    rows = [
        {"review_id": "a", "text": "t", "published": "2024-01-01", "rating": 10},
        {"review_id": "b", "text": "t", "published": "2024-01-01", "rating": "1"},
        {"review_id": "c", "text": "t", "published": "2024-01-01", "rating": ""},
        {"review_id": "d", "text": "t", "published": "2024-01-01", "rating": 11},
        {"review_id": "e", "text": "t", "published": "2024-01-01", "rating": 0},
        {"review_id": "f", "text": "t", "published": "2024-01-01", "rating": "great"},
        {"review_id": "g", "text": "t", "published": "2024-01-01", "recommended": "maybe"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    good, bad = _read(path, rating_scale="1-10")
    assert [(g.native_id, g.rating, g.rating_scale) for g in good] == [
        ("a", 10.0, "1-10"),
        ("b", 1.0, "1-10"),
        ("c", None, None),
    ]
    reasons = sorted(b.reason for b in bad)
    assert reasons == [
        "bad rating: rating 0 is outside its scale 1-10",
        "bad rating: rating 11 is outside its scale 1-10",
        "bad rating: rating must be a number, got 'great'",
        "bad recommended: recommended must be yes or no, got 'maybe'",
    ]
    good, bad = _read(path, rating_scale="0-10")
    assert {g.native_id for g in good} == {"a", "b", "c", "e"}
    good, bad = _read(path)  # no scale declared: 1-5 stars, and the reason says what to do
    assert any("outside its scale 1-5 (declare the file's scale" in b.reason for b in bad)


def test_title_and_recommended_are_fields(tmp_path):
    reviews, _ = write_reviews(tmp_path, per_airline=2)
    good, bad = _read(reviews, rating_scale="1-10")
    assert not bad and len(good) == 6
    first = good[0]
    assert first.title == "Crew were wonderful"  # the export's quotes are dropped
    assert first.recommended is True and first.rating == 9.0
    assert "The seat was very comfortable" in first.text  # text stays the body
    assert {g.title for g in good} == {"Crew were wonderful", "Rude crew, awful seat"}


def test_cli_collect_with_rating_scale_option(tmp_path, settings, monkeypatch):
    from opinion.cli import main

    reviews, _ = write_reviews(tmp_path / "in", per_airline=3)
    monkeypatch.setenv("OPINION_LAKE", str(settings.lake_dir))
    monkeypatch.setenv("OPINION_WAREHOUSE", str(settings.warehouse))
    args = ["collect", "files", "--path", str(reviews), "--name", "skytrax"]
    args += ["--mapping", "AIRLINE_REVIEWS"]
    result = CliRunner().invoke(main, [*args, "-o", "rating_scale=1-10"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert (report["read"], report["posts"], report["rejected"]) == (9, 9, 0)
    bad = CliRunner().invoke(main, [*args, "-o", "rating_scale=ten"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert bad.output.strip().splitlines()[-1].startswith("Error")


def test_yaml_job_declares_rating_scale(tmp_path, settings):
    from opinion.collect.jobs import run_job
    from opinion.sources.config import load_jobs

    reviews, _ = write_reviews(tmp_path / "in", per_airline=2)
    cfg = tmp_path / "opinion.yaml"
    cfg.write_text(
        "version: 1\njobs:\n  - name: skytrax_reviews\n    source: files\n"
        f"    rating_scale: 1-10\n    options: {{path: {reviews}, name: skytrax,\n"
        "              mapping: AIRLINE_REVIEWS}\n"
    )
    (job,) = load_jobs(cfg, settings)
    assert job.options["rating_scale"] == "1-10"
    (report,) = run_job(settings, job)
    assert (report["posts"], report["rejected"]) == (6, 0)
    cfg.write_text(cfg.read_text().replace("1-10", "10-1"))
    with pytest.raises(ValueError, match="skytrax_reviews.*rating_scale"):
        load_jobs(cfg, settings)


def test_appstore_records_declare_stars():
    from opinion.sources.appstore import AppStoreConfig, AppStoreSource

    src = AppStoreSource(AppStoreConfig.from_options(app_id="1", brand="X"))
    entry = {
        "id": {"label": "9"}, "title": {"label": "Fine"}, "content": {"label": "Works well"},
        "im:rating": {"label": "4"}, "updated": {"label": "2024-01-01T00:00:00-07:00"},
    }  # fmt: skip
    rec = src._record(entry)
    assert (rec.rating, rec.rating_scale, rec.title, rec.text) == (4, "1-5", "Fine", "Works well")
