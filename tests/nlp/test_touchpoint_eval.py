"""`opinion eval --task touchpoint` parts that need no model: reading labelled files, gold
touchpoints from categories, the dominant touchpoint, scores; implicit mentions."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.nlp.categories import implicit_mentions
from opinion.nlp.engine import PostResult
from opinion.nlp.evaluate_touchpoint import (
    dominant_touchpoint,
    gold_touchpoints,
    read_labelled,
    score,
)
from opinion.nlp.taxonomy import taxonomy_for


def test_read_labelled_csv_jsonl_and_errors(tmp_path):
    csv = tmp_path / "l.csv"
    csv.write_text(
        'text,touchpoint\n"late again",punctuality\n"bags | phone","baggage|phone_hold"\n,x\n'
    )
    assert read_labelled(csv) == [
        ("late again", ["punctuality"]),
        ("bags | phone", ["baggage", "phone_hold"]),
    ]
    jl = tmp_path / "l.jsonl"
    jl.write_text('{"body": "wifi down", "cat": "wifi_entertainment"}\n')
    assert read_labelled(jl, "body", "cat") == [("wifi down", ["wifi_entertainment"])]
    with pytest.raises(ValueError, match="no column 'label'"):
        read_labelled(csv, label_col="label")
    with pytest.raises(ValueError, match="no such file"):
        read_labelled(tmp_path / "none.csv")
    bad = tmp_path / "x.txt"
    bad.write_text("x")
    with pytest.raises(ValueError, match="unknown file type"):
        read_labelled(bad)


def test_gold_touchpoints_accept_categories():
    tax = taxonomy_for(domain="airline")
    assert gold_touchpoints(["delays", "check_in"], tax) == {"punctuality", "check_in"}
    assert gold_touchpoints(["food drink"], tax) == {"inflight"}
    with pytest.raises(ValueError, match="unknown label"):
        gold_touchpoints(["weather"], tax)


def test_dominant_touchpoint_prefers_the_posts_sentiment():
    ms = [
        {"touchpoint": "inflight", "polarity": "positive", "confidence": 0.9},
        {"touchpoint": "punctuality", "polarity": "negative", "confidence": 0.6},
        {"touchpoint": "baggage", "polarity": "negative", "confidence": 0.8},
        {"touchpoint": "other", "polarity": "negative", "confidence": 0.99},
    ]
    assert dominant_touchpoint(ms, "negative") == "baggage"  # tie on count: confidence
    assert dominant_touchpoint(ms, "positive") == "inflight"
    assert dominant_touchpoint(ms[1:2] * 2 + ms[2:3], "negative") == "punctuality"
    assert dominant_touchpoint([], "negative") == "other"


def test_score_confusion_and_per_touchpoint():
    got = score([{"a"}, {"a", "b"}, {"b"}], ["a", "b", "a"])
    assert got["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert got["confusion"]["b"] == {"a": 1, "b": 1}
    assert got["per_touchpoint"]["a"] == {"precision": 0.5, "recall": 1.0, "support": 1}


def test_implicit_mentions_only_for_opinionated_posts_without_a_named_category():
    cats = [("delays", 0.8), ("phone_hold", 0.55)]
    posts = [
        ("p1", PostResult("negative", 0.9, categories=cats)),  # nothing named: implicit
        ("p2", PostResult("negative", 0.9, categories=cats)),  # names a category: no
        ("p3", PostResult("neutral", 0.9, categories=cats)),  # not opinionated: no
        ("p4", PostResult("positive", 0.7, categories=cats[:1])),  # only "other": implicit
    ]
    mapped = [{"post_id": "p2", "category": "seat"}, {"post_id": "p4", "category": "other"}]
    out = implicit_mentions(posts, mapped, "m@1")
    assert [(m["post_id"], m["category"], m["polarity"]) for m in out] == [
        ("p1", "delays", "negative"),
        ("p1", "phone_hold", "negative"),
        ("p4", "delays", "positive"),
    ]
    assert all(m["implicit"] and m["term"] is None and m["start"] is None for m in out)
    assert len({m["mention_id"] for m in out}) == 3


def test_eval_touchpoint_bad_file_is_one_line(tmp_path):
    bad = tmp_path / "l.csv"
    bad.write_text("body,label\nx,y\n")
    result = CliRunner().invoke(main, ["eval", str(bad), "--task", "touchpoint"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "no column 'text'" in result.output
