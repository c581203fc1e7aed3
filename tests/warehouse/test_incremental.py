"""Loads whose cost follows the change: no-op loads, incremental dup_of and aggregates, batches."""

import os
import signal
import subprocess
import sys
import time

from opinion.warehouse import connect, load_lake
from opinion.warehouse.ledger import generation

from .conftest import REPO, make_lake, mention_rows, post_row, write_mentions

AGG = "SELECT * FROM agg_daily ORDER BY ALL"
DUPS = "SELECT post_id, dup_of FROM posts ORDER BY post_id"
STATE = "SELECT key, value, updated_at FROM load_state ORDER BY key"


def snapshot(settings):
    with connect(settings.writer_warehouse) as con:
        return {
            "agg": con.execute(AGG).fetchall(),
            "verbatims": con.execute("SELECT * FROM verbatims ORDER BY mention_id").fetchall(),
            "dups": con.execute(DUPS).fetchall(),
            "state": con.execute(STATE).fetchall(),
            "pending": con.execute(
                "SELECT (SELECT count(*) FROM pending_agg_groups), "
                "(SELECT count(*) FROM pending_dedup_keys)"
            ).fetchone(),
        }


def test_noop_load_does_no_aggregate_work_and_does_not_publish(settings):
    make_lake(settings.lake_dir, days=3, per_day=4)
    first = load_lake(settings)
    assert first.published is not None
    before = snapshot(settings)
    published = os.stat(settings.warehouse)
    again = load_lake(settings)
    assert not again.changed and again.published is None and again.checks == []
    after = snapshot(settings)
    assert after == before  # same generation, same aggregate_params row (updated_at too)
    assert after["pending"] == (0, 0)
    now = os.stat(settings.warehouse)
    assert (now.st_ino, now.st_mtime_ns) == (published.st_ino, published.st_mtime_ns)


def test_unpublished_generation_is_published_by_the_next_load(settings):
    make_lake(settings.lake_dir, days=1, per_day=3)
    load_lake(settings, publish_snapshot=False)
    assert not settings.warehouse.exists()
    report = load_lake(settings)  # nothing new in the lake, but the snapshot is behind
    assert not report.changed and report.published is not None
    with connect(settings.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 3
        published_gen = generation(con)
    with connect(settings.writer_warehouse) as con:
        assert generation(con) == published_gen


def test_incremental_load_equals_full_rebuild(settings):
    lake = settings.lake_dir
    days = ["2015-02-20", "2015-02-21", "2015-02-22"]
    posts = {d: [post_row("twitter", d, i) for i in range(6)] for d in days}
    for d in days:
        write_mentions(lake, "twitter", d, posts[d])
    load_lake(settings)
    # one day changes: a post gone, one post's polarity flipped, one becomes a repost of an
    # earlier day's post (dup_of changes for it and the aggregates of its day drop it)
    day = days[2]
    changed = posts[day][1:]
    changed[0] = post_row("twitter", day, 1, text_hash=posts[days[0]][0]["text_hash"])
    ms = mention_rows(changed)
    for m in ms[:3]:
        m["polarity"] = "negative"
    write_mentions(lake, "twitter", day, changed, ms)
    report = load_lake(settings)
    assert report.partitions_loaded == [f"mentions/source=twitter/day={day}"]
    assert report.dup_of_changed == 1
    incremental = snapshot(settings)
    assert incremental["pending"] == (0, 0)
    full = load_lake(settings, rebuild=True)
    assert full.published is not None
    rebuilt = snapshot(settings)
    for key in ("agg", "dups", "verbatims"):
        assert incremental[key] == rebuilt[key], key
    with connect(settings.warehouse, read_only=True) as con:
        assert con.execute(AGG).fetchall() == rebuilt["agg"]
        # the pre-joined verbatims table holds exactly the rows of the v_verbatims view
        table = con.execute(
            "SELECT * EXCLUDE (post_net, post_negatives, post_engagement) FROM verbatims "
            "ORDER BY mention_id"
        ).fetchall()
        assert table == con.execute("SELECT * FROM v_verbatims ORDER BY mention_id").fetchall()
        assert len(table) == 32
        # day 3 lost a post (2 mentions) and the repost (2 mentions) no longer counts
        sql = "SELECT day::VARCHAR, sum(mentions) FROM agg_daily GROUP BY 1"
        per_day = dict(con.execute(sql).fetchall())
    assert per_day == {days[0]: 12, days[1]: 12, days[2]: 8}


def test_removed_original_moves_dup_of_incrementally(settings):
    lake = settings.lake_dir
    a = [post_row("twitter", "2015-02-20", i) for i in range(3)]
    b = [post_row("reddit", "2015-02-21", 0, text_hash=a[0]["text_hash"])]
    c = [post_row("forum", "2015-02-22", 0, text_hash=a[0]["text_hash"])]
    write_mentions(lake, "twitter", "2015-02-20", a)
    write_mentions(lake, "reddit", "2015-02-21", b)
    write_mentions(lake, "forum", "2015-02-22", c)
    load_lake(settings)
    write_mentions(lake, "twitter", "2015-02-20", a[1:])  # the original disappears
    assert load_lake(settings).dup_of_changed == 2
    with connect(settings.writer_warehouse) as con:
        dup = dict(con.execute(DUPS).fetchall())
    assert dup[b[0]["post_id"]] is None and dup[c[0]["post_id"]] == b[0]["post_id"]


def test_many_partitions_merge_in_one_transaction(settings):
    make_lake(settings.lake_dir, days=4, per_day=3)
    quiet = [post_row("twitter", "2015-02-28", i) for i in range(3)]
    write_mentions(settings.lake_dir, "twitter", "2015-02-28", quiet, [])  # no mentions at all
    seen = []
    from opinion.warehouse import merge

    merge._BEFORE_COMMIT = seen.append
    try:
        report = load_lake(settings)
    finally:
        merge._BEFORE_COMMIT = None
    assert len(report.partitions_loaded) == 5 and seen == ["5 partitions"]
    with connect(settings.writer_warehouse) as con:
        runs = con.execute("SELECT count(*), sum(rows_loaded) FROM runs").fetchone()
        assert runs == (5, 15)
        assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 4 * 3 * 2


KILLED_IN_BATCH = """
import sys, time
from pathlib import Path
from opinion.config import Settings
from opinion.warehouse import load_lake, merge
tmp = Path(sys.argv[1])
def hook(label):
    (tmp / "in_batch").write_text(label)
    time.sleep(120)
merge._BEFORE_COMMIT = hook
settings = Settings(data_dir=tmp, lake_dir=tmp / "lake",
                    warehouse=tmp / "warehouse" / "opinion.duckdb", state_dir=tmp / "state")
load_lake(settings)
"""


def test_kill_mid_batch_leaves_nothing_and_rerun_loads_all(settings, tmp_path):
    rows = make_lake(settings.lake_dir, days=4, per_day=10)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_IN_BATCH, str(tmp_path)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    marker = tmp_path / "in_batch"
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "loader never reached the batch commit"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert marker.read_text() == "4 partitions"
    with connect(settings.writer_warehouse) as con:
        for table in ("posts", "mentions", "runs", "loaded_partitions", "pending_agg_groups"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    report = load_lake(settings)
    assert len(report.partitions_loaded) == 4
    with connect(settings.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT post_id) FROM posts").fetchone() == (
            len(rows),
            len(rows),
        )
        assert con.execute("SELECT sum(mentions) FROM agg_daily").fetchone()[0] == 2 * len(rows)


def test_a_rewrite_with_the_same_posts_queues_no_duplicate_keys(settings):
    from opinion.warehouse.load import LoadReport, load_into

    make_lake(settings.lake_dir, days=2, per_day=3)
    load_lake(settings)
    posts = [post_row("twitter", "2015-02-20", i) for i in range(3)]
    mentions = mention_rows(posts)
    mentions[0]["polarity"] = "negative"  # same posts, one mention re-read
    write_mentions(settings.lake_dir, "twitter", "2015-02-20", posts, mentions)
    with connect(settings.writer_warehouse) as con:
        load_into(con, settings.lake_dir, LoadReport())
        assert con.execute("SELECT count(*) FROM pending_dedup_keys").fetchone()[0] == 0
        groups = con.execute("SELECT DISTINCT brand, day FROM pending_agg_groups").fetchall()
        assert len(groups) == 1
    posts[1]["text_hash"] = "changed"  # one post's text changed: its old and new keys
    write_mentions(settings.lake_dir, "twitter", "2015-02-20", posts, mentions)
    with connect(settings.writer_warehouse) as con:
        load_into(con, settings.lake_dir, LoadReport())
        keys = {k for (k,) in con.execute("SELECT k FROM pending_dedup_keys").fetchall()}
    old = post_row("twitter", "2015-02-20", 1)
    assert keys == {"h:changed", "h:" + old["text_hash"]} | {"b:" + b for b in old["minhash_bands"]}
    assert load_lake(settings).dup_of_changed == 0


def test_dup_of_follows_keys_of_older_posts_that_a_new_post_touches(settings):
    lake = settings.lake_dir
    said = "the seats on this flight were cramped and the crew never came by"
    y = post_row("twitter", "2015-02-18", 0, minhash_bands=["00:shared"], text=said)
    x = post_row("twitter", "2015-02-19", 0, minhash_bands=["00:shared"], text=said + " today")
    write_mentions(lake, "twitter", "2015-02-18", [y])
    write_mentions(lake, "twitter", "2015-02-19", [x])
    make_lake(lake, "forum", days=1, per_day=20)  # enough posts for the incremental path
    load_lake(settings)
    # a new post copying x's text: x's dup_of must still be y (a key the new post lacks)
    n = post_row(
        "twitter", "2015-02-20", 0, text_hash=x["text_hash"], minhash_bands=[], text=x["text"]
    )
    write_mentions(lake, "twitter", "2015-02-20", [n])
    load_lake(settings)
    incremental = snapshot(settings)["dups"]
    load_lake(settings, rebuild=True)
    assert snapshot(settings)["dups"] == incremental
    dups = dict(incremental)
    assert {k: dups[k] for k in (y["post_id"], x["post_id"], n["post_id"])} == {
        y["post_id"]: None,
        x["post_id"]: y["post_id"],
        n["post_id"]: x["post_id"],  # dup_of is not transitive: n shares only x's text
    }


def test_full_dup_of_in_several_hash_passes_equals_one_pass(settings, monkeypatch):
    from opinion.warehouse import dup_of

    lake = settings.lake_dir
    a = [post_row("twitter", "2015-02-20", i) for i in range(6)]
    b = [post_row("reddit", "2015-02-21", i, text_hash=a[i]["text_hash"]) for i in range(3)]
    a[4]["text"] = "the seats on this flight were cramped and the crew never came by"
    c = [
        post_row(
            "forum", "2015-02-22", 0, minhash_bands=a[4]["minhash_bands"][:1], text=a[4]["text"]
        )
    ]
    for source, day, rows in (("twitter", "2015-02-20", a), ("reddit", "2015-02-21", b),
                              ("forum", "2015-02-22", c)):  # fmt: skip
        write_mentions(lake, source, day, rows)
    load_lake(settings)
    one_pass = snapshot(settings)["dups"]
    assert sum(d is not None for _, d in one_pass) == 4
    monkeypatch.setattr(dup_of, "SHARED_KEYS_PER_PASS", 3)  # a pass per 3 keys
    load_lake(settings, rebuild=True)
    assert snapshot(settings)["dups"] == one_pass
