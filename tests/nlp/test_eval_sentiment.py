"""`opinion eval FILE --task sentiment`: the engine's post sentiment against labels or
ratings, metrics that can fail, and one-line errors on bad files."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.nlp.evaluate_sentiment import normalise_label, rating_label, sentiment_metrics


def test_metrics_count_hits_misses_and_missing_predictions():
    gold = ["negative", "negative", "neutral", "positive"]
    pred = ["negative", "positive", "neutral", None]
    m = sentiment_metrics(gold, pred)
    assert m["accuracy"] == 0.5
    assert m["recall"] == {"negative": 0.5, "neutral": 1.0, "positive": 0.0}
    assert m["macro_recall"] == 0.5
    assert m["confusion"]["positive"]["none"] == 1
    assert m["confusion"]["negative"]["positive"] == 1


def test_labels_and_ratings_map_to_classes():
    assert normalise_label(" Negative ") == "negative"
    assert normalise_label("POS") == "positive"
    assert normalise_label("angry") is None
    assert [rating_label(v, (4, 6)) for v in ("1", "4", "5", "6", "7", "10")] == [
        "negative",
        "negative",
        "neutral",
        "neutral",
        "positive",
        "positive",
    ]
    assert rating_label("", (4, 6)) is None and rating_label("nan", (4, 6)) is None


def _write(path, rows):
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_eval_sentiment_on_labels_and_ratings(tmp_path, engine):
    rows = [
        {
            "body": "@united worst airline ever, lost my bag and nobody helps",
            "y": "Negative",
            "r": 1,
        },
        {"body": "@delta thank you so much, the crew were fantastic!", "y": "POSITIVE", "r": 10},
        {"body": "@united what time does the Denver lounge open?", "y": "neutral", "r": 5},
        {"body": "", "y": "neutral", "r": ""},
    ]
    path = _write(tmp_path / "labelled.csv", rows)
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "eval",
            str(path),
            "--task",
            "sentiment",
            "--text-col",
            "body",
            "--label-col",
            "y",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["n"] == 3 and out["skipped"] == 1
    assert out["sentiment"]["confusion"]["negative"]["negative"] == 1
    assert out["sentiment"]["confusion"]["positive"]["positive"] == 1
    assert set(out["baseline"]["sentiment"]) >= {"accuracy", "macro_recall", "confusion"}
    res = runner.invoke(
        main,
        [
            "eval",
            str(path),
            "--task",
            "sentiment",
            "--text-col",
            "body",
            "--label-col",
            "r",
            "--rating-buckets",
            "4,6",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "macro-recall" in res.output and "confusion" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--label-col", "nope"], "no column 'nope'"),
        (["--rating-buckets", "6,4"], "LOW must not exceed HIGH"),
        (["--rating-buckets", "x"], "expected LOW,HIGH"),
    ],
)
def test_eval_sentiment_bad_input_is_one_line(tmp_path, args, message):
    path = _write(tmp_path / "f.csv", [{"text": "hello", "label": "positive"}])
    res = CliRunner().invoke(main, ["eval", str(path), "--task", "sentiment", *args])
    assert res.exit_code != 0
    assert message in res.output and "Traceback" not in res.output


def test_eval_sentiment_missing_file_and_no_labels(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["eval", str(tmp_path / "none.csv"), "--task", "sentiment"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    path = _write(tmp_path / "f.csv", [{"text": "hello", "label": "maybe"}])
    res = runner.invoke(main, ["eval", str(path), "--task", "sentiment"])
    assert res.exit_code != 0 and "no row has a text" in res.output
