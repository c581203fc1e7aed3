"""Partition grain: sparse months become one month partition, busy ones stay daily; sticky."""

from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from opinion.collect.partitions import collect_records
from opinion.lake import Lake
from opinion.records import RawRecord


def records(days: list[str], per_day: int, prefix: str = "r") -> list[RawRecord]:
    out = []
    for day in days:
        base = datetime.fromisoformat(day).replace(tzinfo=UTC)
        for i in range(per_day):
            out.append(
                RawRecord(
                    source="reviews",
                    native_id=f"{prefix}-{day}-{i}",
                    text=f"review {i} of {day}: the seat was fine",
                    created_at=base + timedelta(hours=i % 24, minutes=i),
                    brand="United",
                )
            )
    return out


def keys(settings) -> list[str]:
    return [p.relpath for p in settings.lake.list_partitions("raw", "reviews")]


def test_sparse_month_is_one_partition_busy_days_stay_daily(settings):
    sparse = ["2012-03-02", "2012-03-09", "2012-03-30", "2013-07-04"]  # 3 in 2012-03, 1 in 2013-07
    busy = ["2015-02-20", "2015-02-21", "2015-02-22"]
    report = collect_records(
        records(sparse, 1) + records(busy, 30), settings, "reviews", "k"
    )  # fmt: skip
    assert report.posts == 4 + 90
    assert keys(settings) == [
        "raw/source=reviews/month=2012-03",
        "raw/source=reviews/day=2013-07-04",  # one day in its month: not sparse by the rule
        "raw/source=reviews/day=2015-02-20",
        "raw/source=reviews/day=2015-02-21",
        "raw/source=reviews/day=2015-02-22",
    ]
    month = settings.lake.partition_path("raw", "reviews", "2012-03")
    rows = pq.read_table(month / "posts.parquet").to_pylist()
    assert sorted(r["created_at"].date().isoformat() for r in rows) == sparse[:3]
    # idempotent: the same input again writes nothing
    again = collect_records(records(sparse, 1) + records(busy, 30), settings, "reviews", "k")
    assert again.partitions_written == 0 and again.partitions_unchanged == 5
    # sticky: a busy run later in the sparse month merges into the month partition, and
    # a thin run in a daily month stays daily
    thin = records(["2015-02-25", "2015-02-26", "2015-02-27"], 1, "c")
    later = collect_records(records(["2012-03-15"], 50, "b") + thin, settings, "reviews", "k2")
    assert later.partitions_written == 4
    assert len(pq.read_table(month / "posts.parquet")) == 53
    assert "raw/source=reviews/day=2015-02-26" in keys(settings)


def test_month_keys_validated_and_listed(tmp_path):
    assert Lake.of(tmp_path).partition_path("raw", "s", "2015-02").name == "month=2015-02"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        Lake.of(tmp_path).partition_path("raw", "s", "2015-2")
    with pytest.raises(ValueError):
        Lake.of(tmp_path).partition_path("raw", "s", "2015-13")
    assert Lake.of(tmp_path).list_partitions("raw", days=["2015-02"]) == []
