"""The files source on hostile input: each bad record becomes a reject, the rest goes on."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from opinion.records import RawRecord, Reject
from opinion.sources.files import FileSourceConfig, read_file
from opinion.sources.timeparse import parse_timestamp

UTC = UTC


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2015-02-24 11:35:52 -0800", datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)),
        ("2015-02-24T19:35:52Z", datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)),
        ("Tue Feb 24 19:35:52 +0000 2015", datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)),
        ("Tue, 24 Feb 2015 19:35:52 GMT", datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)),
        (1424806552, datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)),
        ("1424806552000", datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)),
        ("02/24/2015 19:35", datetime(2015, 2, 24, 19, 35, tzinfo=UTC)),
        ("2015-02-24", datetime(2015, 2, 24, tzinfo=UTC)),
    ],
)
def test_timestamp_formats(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday-ish", "2015-13-45", True, -5])
def test_bad_timestamps_raise(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


def _collect(path, **kw):
    cfg = FileSourceConfig(path, "t", {"native_id": "id", "created_at": "ts"}, **kw)
    items = list(read_file(cfg))
    return [i for i in items if isinstance(i, RawRecord)], [
        i for i in items if isinstance(i, Reject)
    ]


def test_csv_malformed_rows_and_missing_fields(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"id,text,ts\n"
        b"1,fine post,2015-02-24 11:35:52 -0800\n"
        b"2,too,many,fields,2015-02-24\n"
        b"3,,2015-02-24\n"
        b"4,no time,\n"
        b"5,bad time,not a time\n"
        b"6,caf\xe9 invalid utf8,2015-02-24\n"
        b"7,'; DROP TABLE posts; --,2015-02-24\n"
    )
    good, bad = _collect(path)
    assert [g.native_id for g in good] == ["1", "6", "7"]
    assert good[2].text == "'; DROP TABLE posts; --"
    assert good[1].text == "café invalid utf8"  # latin-1 bytes detected and decoded (#28)
    reasons = [b.reason for b in bad]
    assert len(bad) == 4
    assert any("malformed CSV row" in r for r in reasons)
    assert any("missing required field(s): text" in r for r in reasons)
    assert any("missing required field(s): created_at" in r for r in reasons)
    assert any("bad created_at" in r for r in reasons)
    assert all("\n" not in r for r in reasons)


def test_jsonl_non_objects_and_types(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": 1, "text": "ok", "ts": "2015-02-24"}),
        "[1, 2, 3]",
        "{broken",
        json.dumps({"id": 2, "text": 17, "ts": "2015-02-24"}),
        json.dumps({"id": 3, "text": "x" * 1_000_000, "ts": 1424806552}),
        json.dumps({"id": 4, "text": "rated", "ts": "2015-02-24", "stars": 9}),
    ]
    path.write_text("\n".join(lines) + "\n")
    good, bad = _collect(path)
    assert [g.native_id for g in good] == ["1", "3", "4"]
    assert len(good[1].text) == 1_000_000
    assert len(bad) == 3
    assert any("not object" in b.reason for b in bad)
    assert any("not JSON" in b.reason for b in bad)
    assert any("text is int" in b.reason for b in bad)
    assert all(len(b.record) <= 10_000 for b in bad)


def test_rating_validated(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": 1, "text": "a", "ts": "2015-02-24", "stars": 4},
                {"id": 2, "text": "b", "ts": "2015-02-24", "stars": 9},
            ]
        )
    )
    cfg = FileSourceConfig(path, "t", {"native_id": "id", "created_at": "ts", "rating": "stars"})
    items = list(read_file(cfg))
    assert items[0].rating == 4
    assert isinstance(items[1], Reject) and "outside its scale 1-5" in items[1].reason


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown field"):
        FileSourceConfig(tmp_path / "a.csv", mapping={"colour": "x"})
    with pytest.raises(ValueError, match="unsupported file format"):
        FileSourceConfig(tmp_path / "a.xlsx")
    with pytest.raises(FileNotFoundError):
        list(read_file(FileSourceConfig(tmp_path / "missing.csv")))
