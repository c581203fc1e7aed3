"""Issue #28's file findings: a wide CSV header, long CSV fields, one bad JSON record among
good ones, and text in encodings other than UTF-8 (values of our own)."""

from __future__ import annotations

import json

import pytest

from opinion.records import Reject
from opinion.sources.files import FileSourceConfig, read_file

MAPPING = {"native_id": "id", "text": "body", "created_at": "created"}
DAY = "2015-02-20T10:00:00Z"


def _read(path):
    items = list(read_file(FileSourceConfig(path, "t", MAPPING)))
    return [i for i in items if not isinstance(i, Reject)], [
        i for i in items if isinstance(i, Reject)
    ]


def test_csv_header_wider_than_the_csv_module_default_is_read(tmp_path):
    wide = "x" * 200_000
    path = tmp_path / "wide.csv"
    path.write_text(f"id,body,created,{wide}\n1,hello there,{DAY},v\n", encoding="utf-8")
    good, bad = _read(path)
    assert [r.native_id for r in good] == ["1"] and not bad


def test_long_csv_text_is_read_and_capped_like_jsonl(tmp_path):
    from opinion.collect.gate import MAX_TEXT_CHARS, TRUNCATED_MARK, cap_text

    body = "word " * 60_000  # 300 kB
    path = tmp_path / "long.csv"
    path.write_text(f"id,body,created\n7,{body},{DAY}\n", encoding="utf-8")
    good, bad = _read(path)
    assert len(good) == 1 and not bad
    capped = cap_text(good[0].text)
    assert capped.endswith(TRUNCATED_MARK) and len(capped) <= MAX_TEXT_CHARS + len(TRUNCATED_MARK)


@pytest.mark.parametrize(
    "bad_line",
    [
        f'{{"id": "b", "body": "x\\udc80y", "created": "{DAY}"}}',
        '{{"id": "b", "body": "deep", "created": "{}", "n": {}1{}}}'.format(
            DAY, "[" * 700, "]" * 700
        ),
        '{{"id": "b", "body": "big", "created": "{}", "n": {}}}'.format(DAY, "7" * 6000),
        '{{"id": "b", "body": "big", "created": "{}", "n": {}}}'.format(DAY, "9" * 60),
    ],
)
def test_one_bad_json_record_is_one_reject_and_the_good_rows_stay(tmp_path, bad_line):
    lines = [json.dumps({"id": str(i), "body": f"post {i}", "created": DAY}) for i in range(3)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([lines[0], bad_line, *lines[1:]]) + "\n", encoding="utf-8")
    good, bad = _read(path)
    assert [r.native_id for r in good] == ["0", "1", "2"]
    assert len(bad) == 1 and "line 2" in bad[0].reason


@pytest.mark.parametrize(
    "encoding", ["latin-1", "cp1252", "shift_jis", "utf-16-le", "utf-16", "utf-32"]
)
def test_non_utf8_text_is_decoded_not_replaced(tmp_path, encoding):
    word = "東京の空港" if encoding == "shift_jis" else "crème brûlée café"
    path = tmp_path / f"{encoding}.csv"
    text = f"id,body,created\n1,the {word} at the lounge was cold and the staff were slow,{DAY}\n"
    text += f"2,another {word} complaint about the long queue at security,{DAY}\n"
    path.write_bytes(text.encode(encoding))
    good, bad = _read(path)
    assert not bad and len(good) == 2
    assert all(word in r.text and "\ufffd" not in r.text for r in good)


def test_undecodable_bytes_are_refused_with_one_line(tmp_path):
    from opinion.sources.files import decode_text

    with pytest.raises(ValueError, match="bad.csv: not valid utf-16-le"):
        decode_text(b"\xff\xfe" + b"\x00\xd8", "bad.csv")
