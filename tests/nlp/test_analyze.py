"""`opinion analyze`: one JSON line per input row, per-row errors, offsets into the input."""

from __future__ import annotations

import json

from click.testing import CliRunner

from opinion.cli import main


def test_analyze_csv_with_ids(tmp_path, engine):
    src = tmp_path / "in.csv"
    src.write_text(
        "tweet_id,text\n"
        '1,"@united the flight attendants were lovely, thank you!"\n'
        "2,\n"
        '3,"@AmericanAir my bag is lost and nobody answers the phone"\n'
    )
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main, ["analyze", str(src), "--id-col", "tweet_id", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["sentiment"] == "positive"
    assert rows[1]["error"] == "empty text" and rows[1]["sentiment"] is None
    assert rows[2]["sentiment"] == "negative"
    text = "@AmericanAir my bag is lost and nobody answers the phone"
    for a in rows[2]["aspects"]:
        assert text[a["from"] : a["to"]] == a["term"]
        assert a["polarity"] in ("positive", "negative", "neutral")


def test_analyze_unknown_column(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"body": "hello"}\n')
    result = CliRunner().invoke(main, ["analyze", str(src), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code != 0
    assert "no column 'text'" in result.output
