import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opinion import lake
from opinion.lake import RAW_POSTS_SCHEMA, Lake

from .conftest import post_row, write_mentions

RAW_COLS = RAW_POSTS_SCHEMA.names


def raw_table(source, day, n):
    return pa.Table.from_pylist(
        [{k: v for k, v in post_row(source, day, i).items() if k in RAW_COLS} for i in range(n)],
        schema=RAW_POSTS_SCHEMA,
    )


def test_write_partition_layout_metadata_and_replace(tmp_path):
    part = Lake.of(tmp_path).write_partition(
        "raw",
        "twitter",
        "2015-02-20",
        {"posts": raw_table("twitter", "2015-02-20", 3)},
        {"opinion.input_fingerprint": "abc"},
    )
    assert part.path == tmp_path / "raw" / "source=twitter" / "day=2015-02-20"
    meta = part.metadata("posts")
    assert meta["opinion.row_count"] == "3"
    assert meta["opinion.input_fingerprint"] == "abc"
    assert "ARROW:schema" not in meta
    before = part.fingerprint("posts")
    Lake.of(tmp_path).write_partition(
        "raw", "twitter", "2015-02-20", {"posts": raw_table("twitter", "2015-02-20", 2)}
    )
    assert pq.read_table(part.file("posts")).num_rows == 2  # replaced, not appended
    assert part.fingerprint("posts") != before
    assert [p.name for p in part.path.iterdir()] == ["posts.parquet"]  # no tmp files left


def test_write_partition_validates(tmp_path):
    with pytest.raises(ValueError):
        Lake.of(tmp_path).write_partition(
            "raw", "../x", "2015-02-20", {"posts": raw_table("t", "2015-02-20", 1)}
        )
    with pytest.raises(ValueError):
        Lake.of(tmp_path).write_partition(
            "raw", "t", "2015-02-30", {"posts": raw_table("t", "2015-02-20", 1)}
        )
    with pytest.raises(ValueError):
        Lake.of(tmp_path).write_partition(
            "mentions", "t", "2015-02-20", {"posts": raw_table("t", "2015-02-20", 1)}
        )
    with pytest.raises(ValueError, match="lacks columns"):
        Lake.of(tmp_path).write_partition(
            "raw",
            "t",
            "2015-02-20",
            {"posts": raw_table("t", "2015-02-20", 1).drop_columns(["text"])},
        )


def test_list_partitions_sorted_and_filtered(tmp_path):
    for src, day in [("b", "2015-02-21"), ("a", "2015-02-22"), ("a", "2015-02-20")]:
        Lake.of(tmp_path).write_partition("raw", src, day, {"posts": raw_table(src, day, 1)})
    parts = Lake.of(tmp_path).list_partitions("raw")
    assert [(p.source, p.day) for p in parts] == [
        ("a", "2015-02-20"),
        ("a", "2015-02-22"),
        ("b", "2015-02-21"),
    ]
    assert [p.day for p in Lake.of(tmp_path).list_partitions("raw", source="a")] == [
        "2015-02-20",
        "2015-02-22",
    ]
    assert len(Lake.of(tmp_path).list_partitions("raw", days=["2015-02-21"])) == 1
    assert Lake.of(tmp_path).list_partitions("mentions") == []


def test_write_rejects_truncates_and_replaces(tmp_path):
    big = "é" * 20_000
    path = Lake.of(tmp_path).write_rejects(
        "extract",
        "twitter",
        "2015-02-20",
        [
            {"record": big, "reason": "too long"},
            {"record": {"id": 1}, "reason": "bad"},
        ],
    )
    table = pq.read_table(path)
    rec = table.column("record").to_pylist()
    assert len(rec[0].encode()) <= lake.REJECT_RECORD_MAX_BYTES
    assert rec[1] == '{"id": 1}'
    assert table.column("stage").to_pylist() == ["extract", "extract"]
    assert [r.key for r in Lake.of(tmp_path).list_rejects()] == ["2015-02-20"]
    Lake.of(tmp_path).write_rejects(
        "extract", "twitter", "2015-02-20", [{"record": "x", "reason": "r"}]
    )
    assert pq.read_table(path).num_rows == 1
    assert Lake.of(tmp_path).write_rejects("extract", "twitter", "2015-02-20", []) is None
    assert not path.exists()


def test_stale_raw_partitions(tmp_path):
    day = "2015-02-20"
    raw = Lake.of(tmp_path).write_partition("raw", "t", day, {"posts": raw_table("t", day, 2)})
    assert Lake.of(tmp_path).stale_raw_partitions("m1") == [raw]  # no mentions partition yet

    def extract(model):
        posts = [post_row("t", day, i) for i in range(2)]
        from opinion.lake import MENTION_POSTS_SCHEMA, MENTIONS_SCHEMA

        from .conftest import mention_rows

        Lake.of(tmp_path).write_partition(
            "mentions",
            "t",
            day,
            {
                "posts": pa.Table.from_pylist(posts, schema=MENTION_POSTS_SCHEMA),
                "mentions": pa.Table.from_pylist(mention_rows(posts), schema=MENTIONS_SCHEMA),
            },
            {"opinion.model_version": model, "opinion.input_fingerprint": raw.fingerprint("posts")},
        )

    extract("m1")
    assert Lake.of(tmp_path).stale_raw_partitions("m1") == []
    assert Lake.of(tmp_path).stale_raw_partitions("m2") == [raw]  # other model version
    st = os.stat(raw.file("posts"))
    os.utime(raw.file("posts"), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # re-collected
    assert Lake.of(tmp_path).stale_raw_partitions("m1") == [raw]


def test_mentions_partition_needs_both_files(tmp_path):
    part = write_mentions(tmp_path, "t", "2015-02-20", [post_row("t", "2015-02-20", 0)])
    assert Lake.of(tmp_path).list_partitions("mentions") == [part]
    part.file("mentions").unlink()
    assert Lake.of(tmp_path).list_partitions("mentions") == []
