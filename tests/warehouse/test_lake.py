import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opinion import lake
from opinion.lake import (
    RAW_POSTS_SCHEMA,
    file_fingerprint,
    list_partitions,
    list_rejects,
    read_metadata,
    stale_raw_partitions,
    write_partition,
    write_rejects,
)

from .conftest import post_row, write_mentions

RAW_COLS = RAW_POSTS_SCHEMA.names


def raw_table(source, day, n):
    return pa.Table.from_pylist(
        [{k: v for k, v in post_row(source, day, i).items() if k in RAW_COLS} for i in range(n)],
        schema=RAW_POSTS_SCHEMA,
    )


def test_write_partition_layout_metadata_and_replace(tmp_path):
    part = write_partition(
        tmp_path, "raw", "twitter", "2015-02-20", {"posts": raw_table("twitter", "2015-02-20", 3)},
        {"opinion.input_fingerprint": "abc"},
    )  # fmt: skip
    assert part.path == tmp_path / "raw" / "source=twitter" / "day=2015-02-20"
    meta = read_metadata(part.file("posts"))
    assert meta["opinion.row_count"] == "3"
    assert meta["opinion.input_fingerprint"] == "abc"
    assert "ARROW:schema" not in meta
    before = file_fingerprint(part.file("posts"))
    write_partition(
        tmp_path, "raw", "twitter", "2015-02-20", {"posts": raw_table("twitter", "2015-02-20", 2)}
    )
    assert pq.read_table(part.file("posts")).num_rows == 2  # replaced, not appended
    assert file_fingerprint(part.file("posts")) != before
    assert [p.name for p in part.path.iterdir()] == ["posts.parquet"]  # no tmp files left


def test_write_partition_validates(tmp_path):
    with pytest.raises(ValueError):
        write_partition(
            tmp_path, "raw", "../x", "2015-02-20", {"posts": raw_table("t", "2015-02-20", 1)}
        )
    with pytest.raises(ValueError):
        write_partition(
            tmp_path, "raw", "t", "2015-02-30", {"posts": raw_table("t", "2015-02-20", 1)}
        )
    with pytest.raises(ValueError):
        write_partition(
            tmp_path, "mentions", "t", "2015-02-20", {"posts": raw_table("t", "2015-02-20", 1)}
        )
    with pytest.raises(ValueError, match="lacks columns"):
        write_partition(
            tmp_path, "raw", "t", "2015-02-20",
            {"posts": raw_table("t", "2015-02-20", 1).drop_columns(["text"])},
        )  # fmt: skip


def test_list_partitions_sorted_and_filtered(tmp_path):
    for src, day in [("b", "2015-02-21"), ("a", "2015-02-22"), ("a", "2015-02-20")]:
        write_partition(tmp_path, "raw", src, day, {"posts": raw_table(src, day, 1)})
    parts = list_partitions(tmp_path, "raw")
    assert [(p.source, p.day) for p in parts] == [
        ("a", "2015-02-20"), ("a", "2015-02-22"), ("b", "2015-02-21"),
    ]  # fmt: skip
    assert [p.day for p in list_partitions(tmp_path, "raw", source="a")] == [
        "2015-02-20",
        "2015-02-22",
    ]
    assert len(list_partitions(tmp_path, "raw", days=["2015-02-21"])) == 1
    assert list_partitions(tmp_path, "mentions") == []


def test_write_rejects_truncates_and_replaces(tmp_path):
    big = "é" * 20_000
    path = write_rejects(tmp_path, "extract", "twitter", "2015-02-20", [
        {"record": big, "reason": "too long"},
        {"record": {"id": 1}, "reason": "bad"},
    ])  # fmt: skip
    table = pq.read_table(path)
    rec = table.column("record").to_pylist()
    assert len(rec[0].encode()) <= lake.REJECT_RECORD_MAX_BYTES
    assert rec[1] == '{"id": 1}'
    assert table.column("stage").to_pylist() == ["extract", "extract"]
    assert [r.key for r in list_rejects(tmp_path)] == ["2015-02-20"]
    write_rejects(tmp_path, "extract", "twitter", "2015-02-20", [{"record": "x", "reason": "r"}])
    assert pq.read_table(path).num_rows == 1
    assert write_rejects(tmp_path, "extract", "twitter", "2015-02-20", []) is None
    assert not path.exists()


def test_stale_raw_partitions(tmp_path):
    day = "2015-02-20"
    raw = write_partition(tmp_path, "raw", "t", day, {"posts": raw_table("t", day, 2)})
    assert stale_raw_partitions(tmp_path, "m1") == [raw]  # no mentions partition yet

    def extract(model):
        posts = [post_row("t", day, i) for i in range(2)]
        from opinion.lake import MENTION_POSTS_SCHEMA, MENTIONS_SCHEMA

        from .conftest import mention_rows

        write_partition(
            tmp_path, "mentions", "t", day,
            {"posts": pa.Table.from_pylist(posts, schema=MENTION_POSTS_SCHEMA),
             "mentions": pa.Table.from_pylist(mention_rows(posts), schema=MENTIONS_SCHEMA)},
            {"opinion.model_version": model,
             "opinion.input_fingerprint": file_fingerprint(raw.file("posts"))},
        )  # fmt: skip

    extract("m1")
    assert stale_raw_partitions(tmp_path, "m1") == []
    assert stale_raw_partitions(tmp_path, "m2") == [raw]  # other model version
    st = os.stat(raw.file("posts"))
    os.utime(raw.file("posts"), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # re-collected
    assert stale_raw_partitions(tmp_path, "m1") == [raw]


def test_mentions_partition_needs_both_files(tmp_path):
    part = write_mentions(tmp_path, "t", "2015-02-20", [post_row("t", "2015-02-20", 0)])
    assert list_partitions(tmp_path, "mentions") == [part]
    part.file("mentions").unlink()
    assert list_partitions(tmp_path, "mentions") == []
