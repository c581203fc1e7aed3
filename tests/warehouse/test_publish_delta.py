"""Publishing writes only what changed: two slot files, a change log, a hard-link swap."""

import os
import subprocess
import sys
import time

import duckdb

from opinion.warehouse import connect, load_lake
from opinion.warehouse.publish import LAST_PUBLISH, slot_paths

from .conftest import REPO, make_lake, mention_rows, post_row, write_mentions

SKIP = {"change_log"}  # writer-only bookkeeping


def tables(path, *, attach: bool) -> dict[str, list]:
    """Every base table's rows (sorted); load_state without the writer-only log_floor."""
    con = duckdb.connect(":memory:")
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS db" + (" (READ_ONLY)" if attach else ""))
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'db' "
                "AND schema_name = 'main'"
            ).fetchall()
        ]
        out = {}
        for name in sorted(set(names) - SKIP):
            where = " WHERE key <> 'log_floor'" if name == "load_state" else ""
            out[name] = con.execute(f"SELECT * FROM db.{name}{where} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def assert_published_equals_writer(settings) -> None:
    writer = tables(settings.writer_warehouse, attach=False)
    published = tables(settings.warehouse, attach=True)
    assert published.keys() == writer.keys()
    for name in writer:
        assert published[name] == writer[name], name


def both_slots_written(settings) -> None:
    """7 posts loaded and published twice: both slot files exist, the next publish is a delta."""
    make_lake(settings.lake_dir, days=2, per_day=3)
    load_lake(settings)
    add_day(settings, "2015-02-25")


def add_day(settings, day: str) -> None:
    write_mentions(settings.lake_dir, "twitter", day, [post_row("twitter", day, 0)])
    load_lake(settings)


def mode() -> str:
    return LAST_PUBLISH["mode"]


def test_incremental_publishes_copy_only_the_change(settings):
    make_lake(settings.lake_dir, days=3, per_day=4)
    load_lake(settings)
    assert mode() == "copy"  # no slot yet: both slots are written
    assert LAST_PUBLISH["why"] == "no slot file yet" and "copy_other" in LAST_PUBLISH["seconds"]
    write_mentions(settings.lake_dir, "twitter", "2015-02-23", [
        post_row("twitter", "2015-02-23", i) for i in range(3)
    ])  # fmt: skip
    load_lake(settings)
    assert mode() == "delta"  # the second slot was written with the first
    assert_published_equals_writer(settings)

    # a partition rewritten: one post gone, one changed, mentions re-read
    posts = [post_row("twitter", "2015-02-20", i) for i in range(3)]
    posts[0]["text"] = "post rewritten about the crew"
    mentions = mention_rows(posts)
    mentions[0]["polarity"] = "negative"
    write_mentions(settings.lake_dir, "twitter", "2015-02-20", posts, mentions)
    load_lake(settings)
    assert mode() == "delta"
    assert_published_equals_writer(settings)

    # the published path is a hard link to the slot just written; no temp files remain
    dest = os.stat(settings.warehouse)
    assert dest.st_nlink == 2
    assert dest.st_ino in {os.stat(s).st_ino for s in slot_paths(settings.warehouse)}
    leftovers = [p.name for p in settings.warehouse.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_dup_of_changes_outside_the_changed_partition_are_published(settings):
    make_lake(settings.lake_dir, days=2, per_day=3)
    load_lake(settings)
    add_day(settings, "2015-02-25")  # both slots exist from here on
    original = post_row("twitter", "2015-02-21", 1)  # same text as a post of 02-21, earlier
    early = post_row("twitter", "2015-02-19", 9, text_hash=original["text_hash"])
    write_mentions(settings.lake_dir, "twitter", "2015-02-19", [early])
    report = load_lake(settings)
    assert report.dup_of_changed >= 1
    assert mode() == "delta"
    assert_published_equals_writer(settings)
    with connect(settings.warehouse, read_only=True) as con:
        dup = con.execute(
            "SELECT dup_of FROM posts WHERE post_id = ?", [original["post_id"]]
        ).fetchone()[0]
    assert dup == early["post_id"]


def test_a_post_moving_partition_and_a_rebuild(settings):
    both_slots_written(settings)
    moved = post_row("twitter", "2015-02-20", 2)
    moved["collected_at"] = moved["collected_at"].replace(year=2025)  # newer copy wins
    write_mentions(settings.lake_dir, "twitter", "2015-02-26", [moved])
    load_lake(settings)
    assert mode() == "delta"
    assert_published_equals_writer(settings)
    load_lake(settings, rebuild=True)
    assert mode() == "copy"
    assert LAST_PUBLISH["why"] == "too much changed since the slot was written"
    assert_published_equals_writer(settings)
    add_day(settings, "2015-02-27")
    assert mode() == "delta"  # the rebuild's publish wrote the other slot as well
    add_day(settings, "2015-02-28")
    assert mode() == "delta"
    assert_published_equals_writer(settings)


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM posts").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("SELECT count(*) FROM posts").fetchone()[0], flush=True)
"""


def test_a_reader_on_the_retired_snapshot_gets_a_copy_not_a_rewrite(settings):
    both_slots_written(settings)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert reader.stdout.readline().strip() == "7"
        for day in ("2015-02-26", "2015-02-27"):  # the second publish targets the held slot
            add_day(settings, day)
        assert mode() == "copy"
        assert LAST_PUBLISH["why"].startswith("cannot open the slot read-write")
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "7"  # its snapshot was never written
    finally:
        reader.kill()
        reader.wait()
    assert_published_equals_writer(settings)
    with connect(settings.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 9


def test_a_slot_open_in_this_process_is_not_rewritten(settings):
    both_slots_written(settings)
    held = duckdb.connect(":memory:")
    quoted = str(settings.warehouse).replace("'", "''")
    held.execute(f"ATTACH '{quoted}' AS snap (READ_ONLY)")
    try:
        for day in ("2015-02-26", "2015-02-27"):
            add_day(settings, day)
        assert LAST_PUBLISH["why"] == "the slot is still open in this process"
        assert held.execute("SELECT count(*) FROM snap.posts").fetchone()[0] == 7
    finally:
        held.close()
    assert_published_equals_writer(settings)


def test_the_dashboard_lets_go_of_a_retired_snapshot_so_the_next_publish_is_a_delta(
    settings, monkeypatch
):
    from opinion.serve import db

    monkeypatch.setattr(db, "RETIRE_GRACE_S", 0.5)
    both_slots_written(settings)
    snap = db.Snapshot(settings.warehouse)
    try:
        with snap.cursor() as cur:  # the dashboard reads slot X
            assert cur.execute("SELECT count(*) FROM posts").fetchone()[0] == 7
        add_day(settings, "2015-02-26")  # writes slot Y; X is retired at the next request
        with snap.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM posts").fetchone()[0] == 8
        time.sleep(0.6)
        with snap.cursor() as cur:  # a later request closes X (its grace is over)
            cur.execute("SELECT 1").fetchall()
        add_day(settings, "2015-02-27")  # writes X again, in place
        assert LAST_PUBLISH["mode"] == "delta"
        with snap.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM posts").fetchone()[0] == 9
    finally:
        snap.close()
    assert_published_equals_writer(settings)
