"""Metrics on hand-made inputs whose answers are computed by hand."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.nlp.absa_data import AbsaFormatError, parse_line, read_jsonl, split_dev
from opinion.nlp.evaluate import classification_metrics, span_metrics


def test_classification_metrics_by_hand():
    gold = ["positive", "positive", "negative", "neutral"]
    pred = ["positive", "negative", "negative", "neutral"]
    m = classification_metrics(gold, pred)
    assert m["accuracy"] == 0.75
    # F1: positive 2*1/(2+0+1)=0.667, negative 2*1/(2+1+0)=0.667, neutral 1.0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3, abs=1e-4)


def test_span_metrics_by_hand():
    gold = [{(0, 4), (10, 15)}, {(3, 7)}]
    pred = [{(0, 4)}, {(3, 7), (8, 9)}]
    m = span_metrics(gold, pred)
    assert m == {"precision": round(2 / 3, 4), "recall": round(2 / 3, 4), "f1": round(2 / 3, 4)}


def test_bad_lines_have_one_line_reasons():
    with pytest.raises(AbsaFormatError, match="not JSON"):
        parse_line("{nope", "f:1")
    with pytest.raises(AbsaFormatError, match="outside text"):
        parse_line('{"text": "abc", "aspects": [{"from": 1, "to": 9, "polarity": "positive"}]}')
    with pytest.raises(AbsaFormatError, match="unknown polarity"):
        parse_line('{"text": "abc", "aspects": [{"from": 0, "to": 1, "polarity": "meh"}]}')


def test_dev_split_is_deterministic_and_tokenisation_blind():
    a = parse_line('{"text": "The food , was good .", "aspects": []}')
    b = parse_line('{"text": "The food, was good.", "aspects": []}')
    exs = [a, b] * 50
    t1, d1 = split_dev(exs)
    t2, d2 = split_dev(exs)
    assert (t1, d1) == (t2, d2)
    assert (a in d1) == (b in d1)


def test_eval_cli_json(tmp_path, engine):
    rows = [
        {
            "text": "The pizza was delicious.",
            "aspects": [{"term": "pizza", "from": 4, "to": 9, "polarity": "positive"}],
        },
        {
            "text": "The waiter was rude.",
            "aspects": [{"term": "waiter", "from": 4, "to": 10, "polarity": "negative"}],
        },
        {"text": "I went there on Tuesday.", "aspects": []},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert len(read_jsonl(path)) == 3
    result = CliRunner().invoke(main, ["eval", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["n"] == 3
    assert out["atsc"]["accuracy"] == 1.0
    assert set(out["ate"]) == {"precision", "recall", "f1"}
    assert out["ate"]["recall"] == 1.0
    assert "baseline" in out and "accuracy" in out["baseline"]["atsc"]


def test_eval_cli_bad_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 5}\n')
    result = CliRunner().invoke(main, ["eval", str(bad)])
    assert result.exit_code != 0
    assert "expected an object with a string 'text'" in result.output
    missing = CliRunner().invoke(main, ["eval", str(tmp_path / "none.jsonl")])
    assert missing.exit_code != 0 and "no such file" in missing.output
