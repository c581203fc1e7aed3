"""Hostile input files: each once ended in a traceback, a hang or silent loss. Now every case
is one clear line (a reject reason or a one-line error) and the rest of the file goes on."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opinion.records import RawRecord, Reject
from opinion.sources.files import FileSourceConfig, read_file
from opinion.sources.timeparse import parse_timestamp
from tests.hostile.conftest import assert_one_line_error, run_cli

MAPPING = {"native_id": "id", "text": "text", "created_at": "ts"}
CSV = "id,text,ts\n1,hello @united,2015-02-20 10:00:00 -0800\n2,bye,2015-02-21 10:00:00 -0800\n"


def _records(path, mapping=MAPPING, fmt=None):
    return list(read_file(FileSourceConfig(path, "t", mapping, format=fmt)))


def test_utf8_bom_csv_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV.encode())
    recs = _records(path)
    assert [type(r) for r in recs] == [RawRecord, RawRecord]


def test_bom_jsonl_is_read(tmp_path):
    path = tmp_path / "bom.jsonl"
    line = json.dumps({"id": 1, "text": "x", "ts": 1424800000})
    path.write_bytes(b"\xef\xbb\xbf" + line.encode())
    assert isinstance(_records(path)[0], RawRecord)


@pytest.mark.parametrize("name", ["data.csv.gz", "data.csv"])
def test_gzip_is_read_by_content(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(CSV.encode()))
    assert [type(r) for r in _records(path)] == [RawRecord, RawRecord]


def test_broken_gzip_is_one_line_error(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(CSV.encode() * 50)[:40])
    with pytest.raises(ValueError, match="broken gzip"):
        _records(path)


def test_date32_column_is_midnight_utc(tmp_path):
    path = tmp_path / "d.parquet"
    table = pa.table(
        {"id": ["1"], "text": ["hi"], "ts": pa.array([date(2015, 2, 20)], pa.date32())}
    )
    pq.write_table(table, path)
    (rec,) = _records(path)
    assert rec.created_at == datetime(2015, 2, 20, tzinfo=UTC)


def test_corrupt_parquet_input_is_one_line_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        _records(path)


def test_deep_json_line_is_rejected_alone(tmp_path):
    path = tmp_path / "deep.jsonl"
    good = json.dumps({"id": 1, "text": "fine", "ts": "2015-02-20T10:00:00Z"})
    path.write_text(good + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + good.replace("1", "2"))
    recs = _records(path)
    assert [type(r) for r in recs] == [RawRecord, Reject, RawRecord]
    assert "nested too deep" in recs[1].reason


@pytest.mark.parametrize("rating", ["inf", "1e400", "-inf", "nan"])
def test_overflow_ratings_are_rejects(tmp_path, rating):
    path = tmp_path / "r.csv"
    path.write_text(f"id,text,ts,stars\n1,ok,2015-02-20 10:00:00 -0800,{rating}\n")
    (rec,) = _records(path, {**MAPPING, "rating": "stars"})
    assert isinstance(rec, Reject) and "rating" in rec.reason


@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", 1e400, 10**400, float("nan")],
)
def test_timestamps_out_of_range_are_value_errors(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


@pytest.mark.parametrize("bad", [["text", "body"], {"col": "text"}, 3, ""])
def test_mapping_values_must_be_column_names(tmp_path, bad):
    with pytest.raises(ValueError, match="must be a column name"):
        FileSourceConfig(tmp_path / "x.csv", "t", {"native_id": "id", "text": bad})


def test_cli_bad_mapping_and_gzip_garbage_are_one_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(CSV)
    mapping = json.dumps({"native_id": "id", "text": ["text"], "created_at": "ts"})
    env = {"OPINION_LAKE": str(tmp_path / "lake"), "OPINION_STATE": str(tmp_path / "state")}
    line = assert_one_line_error(
        run_cli("collect", "files", "--path", str(path), "--mapping", mapping, env=env)
    )
    assert "column name" in line
    bad = tmp_path / "y.csv.gz"
    bad.write_bytes(b"\x1f\x8b\x08garbage")
    line = assert_one_line_error(
        run_cli("collect", "files", "--path", str(bad), "--mapping", json.dumps(MAPPING), env=env)
    )
    assert "broken gzip" in line
