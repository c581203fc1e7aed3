"""Issue #28's fault findings, with values of our own: a truncated raw partition is
re-collected (X2), a full disk during load and a damaged writer file are one line naming
what to do (X1, X4), and a platform's digit id is not taken for a card number."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from click.testing import CliRunner

from opinion.cli import main

SOURCE = "faulty"
ROWS = [  # three months, so three day partitions (no sparse month partition)
    ("t1", "@delta the lounge in Reykjavik was spotless", "2015-01-11T09:00:00Z"),
    ("t2", "@delta gate agent was rude about my stroller", "2015-01-11T10:00:00Z"),
    ("t3", "@delta wifi dropped over Greenland", "2015-02-12T09:00:00Z"),
    ("t4", "@delta lost the ski bag again", "2015-03-13T09:00:00Z"),
]


def _write(path, rows) -> None:
    path.write_text(
        "".join(json.dumps({"id": i, "text": t, "ts": ts}) + "\n" for i, t, ts in rows),
        encoding="utf-8",
    )


def _collect(settings, path) -> dict:
    from opinion.collect.jobs import collect_source
    from opinion.sources.registry import build_source

    mapping = {"native_id": "id", "text": "text", "created_at": "ts"}
    with build_source("files", path=str(path), name=SOURCE, mapping=mapping) as src:
        return collect_source(settings, src)


def _ids(settings) -> set[str]:
    out = set()
    for part in settings.lake.list_partitions("raw", source=SOURCE):
        out |= set(pq.read_table(part.file("posts"), columns=["native_id"]).column(0).to_pylist())
    return out


def test_truncated_raw_partition_is_recollected(settings):
    """X2: the file is unchanged (its cursor says so), but a raw partition is unreadable: the
    next collect of the source notices, reads the file again and rewrites the partition; a
    second file of the same source loses its cursor too, so its posts come back as well."""
    a, b = settings.lake_dir.parent / "a.jsonl", settings.lake_dir.parent / "b.jsonl"
    _write(a, ROWS)
    _write(b, [("u1", "@delta upgrade to comfort plus, lovely", "2015-01-11T12:00:00Z")])
    assert _collect(settings, a)["posts"] == 4 and _collect(settings, b)["posts"] == 1
    assert _collect(settings, a)["pages"] == 0  # unchanged: not read

    bad = settings.lake.partition_path("raw", SOURCE, "2015-01-11") / "posts.parquet"
    bad.write_bytes(bad.read_bytes()[:150])
    assert [p.day for p in settings.lake.unreadable_partitions("raw", SOURCE)] == ["2015-01-11"]

    again = _collect(settings, a)
    assert again["pages"] == 1 and again["reread"] == [f"raw/source={SOURCE}/day=2015-01-11"]
    assert not settings.lake.unreadable_partitions("raw", SOURCE)
    assert _ids(settings) == {"t1", "t2", "t3", "t4"}  # b's post waits for b's collect
    assert _collect(settings, b)["pages"] == 1  # its cursor was forgotten
    assert _ids(settings) == {"t1", "t2", "t3", "t4", "u1"}
    assert _collect(settings, a)["pages"] == 0 and "reread" not in _collect(settings, b)


def test_extract_of_an_unreadable_partition_does_not_exit_0(settings, tmp_path):
    """X2: extract names the skipped partition and exits non-zero (its posts are missing)."""
    path = tmp_path / "c.jsonl"
    _write(path, ROWS)
    _collect(settings, path)
    bad = settings.lake.partition_path("raw", SOURCE, "2015-02-12") / "posts.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    args = ["extract", "--lake", str(settings.lake_dir), "--warehouse", str(settings.warehouse)]
    result = CliRunner().invoke(main, [*args, "--model", "embedded"])
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: 1 raw partition(s) unreadable") and "day=2015-02-12" in last
    assert "Traceback" not in result.output
    assert {p.day for p in settings.lake.list_partitions("mentions")} == {
        "2015-01-11",
        "2015-03-13",
    }


def test_a_snowflake_id_is_not_a_card(settings, tmp_path):
    """A tweet-style 18-digit id that passes Luhn stays the post's id (and its URL's), while a
    card number in the text is still redacted; an id carrying an e-mail is still hashed."""
    from opinion.clean.pii_patterns import luhn

    snowflake = "601239874561237898"
    assert luhn(snowflake)  # what made the redactor call it a card
    path = tmp_path / "d.jsonl"
    rows = [
        {"id": snowflake, "text": "@delta card 4929 1234 5678 9007 was charged twice",
         "ts": "2015-04-01T09:00:00Z", "link": f"https://twitter.com/kestrel_ok/status/{snowflake}"},
        {"id": "quentin.marsh@example.org", "text": "@delta fine", "ts": "2015-04-01T10:00:00Z"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    from opinion.collect.jobs import collect_source
    from opinion.sources.registry import build_source

    mapping = {"native_id": "id", "text": "text", "created_at": "ts", "url": "link"}
    with build_source("files", path=str(path), name=SOURCE, mapping=mapping) as src:
        assert collect_source(settings, src)["posts"] == 2
    posts = {
        r["native_id"]: r
        for p in settings.lake.list_partitions("raw", source=SOURCE)
        for r in pq.read_table(p.file("posts")).to_pylist()
    }
    assert snowflake in posts and len(posts) == 2
    assert posts[snowflake]["url"] == f"https://twitter.com/i/status/{snowflake}"
    assert "[card]" in posts[snowflake]["text"] and "4929" not in posts[snowflake]["text"]
    assert not any("quentin" in pid for pid in posts)
