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


def _load(lake_dir, warehouse, *extra: str):
    return CliRunner().invoke(
        main, ["load", *extra, "--lake", str(lake_dir), "--warehouse", str(warehouse)]
    )


def _published_posts(warehouse) -> int:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM posts").fetchone()[0]


def test_damaged_writer_file_is_one_line_and_rebuild_recovers(tmp_path):
    """X4: garbage bytes over the writer file, or a torn block inside it: `load` says in one
    line which file is damaged and which command rebuilds it; `load --rebuild` moves it aside
    (NAME.damaged-STAMP) and rebuilds the warehouse from the lake."""
    from tests.warehouse.conftest import make_lake

    lake_dir, wh = tmp_path / "lake", tmp_path / "wh" / "opinion.duckdb"
    rows = make_lake(lake_dir, source="gullwing", days=3, per_day=3)
    assert _load(lake_dir, wh).exit_code == 0
    writer = wh.with_name("opinion.writer.duckdb")
    good = writer.read_bytes()
    garbage = b"the quick heron eats the slow eel " * 400
    for damage in (
        garbage,  # not a database at all
        good[:12288] + garbage[:4096] + good[12288 + 4096 :],  # a torn block after the header
    ):
        writer.write_bytes(damage)
        result = _load(lake_dir, wh)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
        assert str(writer) in line and "is damaged" in line
        assert "`opinion load --rebuild` moves it aside" in line
        assert result.output.count("\n") == 1, result.output
        assert _published_posts(wh) == len(rows)  # readers keep the last snapshot

    result = _load(lake_dir, wh, "--rebuild")
    assert result.exit_code == 0, result.output
    assert len(list(wh.parent.glob("opinion.writer.duckdb.damaged-*"))) == 1
    assert _published_posts(wh) == len(rows)
    assert _load(lake_dir, wh).exit_code == 0  # the rebuilt writer is a normal one


_FULL_DISK = r"""
import json, subprocess, sys
mnt, lake = sys.argv[1], sys.argv[2]
wh = mnt + "/opinion.duckdb"
cli = [sys.executable, "-m", "opinion", "load", "--lake", lake, "--warehouse", wh]
out = {}
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).returncode:
    print(json.dumps({"skip": "cannot mount"})); sys.exit(0)
full = subprocess.run(cli, capture_output=True, text=True)
out["full"] = [full.returncode, full.stderr]
subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
again = subprocess.run(cli, capture_output=True, text=True)
out["again"] = [again.returncode, again.stderr]
import duckdb
with duckdb.connect(mnt + "/opinion.duckdb", read_only=True) as con:
    out["posts"] = con.execute("SELECT count(*) FROM posts").fetchone()[0]
print(json.dumps(out))
"""


def test_disk_full_during_load_is_one_line_and_the_next_load_recovers(tmp_path):
    """X1: the warehouse on a 1 MiB tmpfs (mounted in a private mount namespace, so no root is
    needed where user namespaces are allowed): DuckDB fails in its checkpoint (a FatalException
    before this fix); `load` says so in one line, and once there is room the next load
    completes with every post."""
    import os
    import shutil
    import subprocess
    import sys

    import pytest

    from tests.conftest import REPO
    from tests.warehouse.conftest import make_lake

    if not shutil.which("unshare"):
        pytest.skip("no unshare")
    lake_dir, mnt = tmp_path / "lake", tmp_path / "mnt"
    mnt.mkdir()
    rows = make_lake(lake_dir, source="gullwing", days=3, per_day=3)
    proc = subprocess.run(
        ["unshare", "-rm", sys.executable, "-c", _FULL_DISK, str(mnt), str(lake_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if proc.returncode and "unshare" in proc.stderr:
        pytest.skip(f"no user namespaces here: {proc.stderr.strip()[:100]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in out:
        pytest.skip(out["skip"])
    rc, stderr = out["full"]
    assert rc == 1 and "Traceback" not in stderr and "FATAL" not in stderr, stderr
    errors = [x for x in stderr.splitlines() if x.startswith("Error:")]
    assert errors == [x for x in stderr.splitlines() if "Error" in x], stderr
    assert len(errors) == 1 and "no space left on device" in errors[0]
    assert out["again"][0] == 0, out["again"][1]
    assert out["posts"] == len(rows)
