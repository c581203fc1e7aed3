"""The labelled demo tweets behind the post-level check, and its scorer."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _scorer():
    spec = importlib.util.spec_from_file_location(
        "post_sentiment", ROOT / "benchmarks" / "post_sentiment.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _labels() -> dict[str, str]:
    with (ROOT / "benchmarks" / "airline_post_labels.csv").open(newline="") as fh:
        return {row["tweet_id"]: row["label"] for row in csv.DictReader(fh)}


def test_labels_name_demo_tweets_with_known_classes():
    labels = _labels()
    assert len(labels) == 150
    assert set(labels.values()) == {"negative", "neutral", "positive"}
    with (ROOT / "data" / "demo" / "airline_tweets.csv").open(newline="") as fh:
        ids = {row["tweet_id"] for row in csv.DictReader(fh)}
    assert set(labels) <= ids


def test_scorer_counts_hits_and_misses(tmp_path):
    labels = _labels()
    wrong = next(iter(labels))
    flip = {"negative": "positive", "positive": "neutral", "neutral": "negative"}
    out = tmp_path / "an.jsonl"
    with out.open("w") as fh:
        for tweet_id, label in labels.items():
            sentiment = flip[label] if tweet_id == wrong else label
            fh.write(json.dumps({"id": tweet_id, "sentiment": sentiment, "aspects": []}) + "\n")
    result = _scorer().score(out)
    assert result["n"] == 150
    assert result["accuracy"] == round(149 / 150, 3)
    assert sum(result["confusion"].values()) == 150


def test_scorer_refuses_missing_ids(tmp_path):
    out = tmp_path / "an.jsonl"
    out.write_text(json.dumps({"id": "1", "sentiment": "neutral"}) + "\n")
    with pytest.raises(SystemExit, match="missing"):
        _scorer().score(out)
