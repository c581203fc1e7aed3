import os
import subprocess
import sys
import time

import pytest

from opinion.warehouse import QualityError, connect, load_lake, publish, run_checks

from .conftest import REPO, make_lake, post_row, write_mentions


def published_count(settings, table="posts"):
    with connect(settings.warehouse, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_publish_swaps_snapshot_and_freshness_only_warns(settings):
    make_lake(settings.lake_dir, days=1, per_day=5)
    report = load_lake(settings)
    fresh = {c.name: c for c in report.checks}["freshness"]
    assert not fresh.passed and not fresh.required  # 2015 corpus: warning only
    assert published_count(settings) == 5
    assert not settings.writer_warehouse.with_name(settings.writer_warehouse.name + ".wal").exists()
    with pytest.raises(QualityError, match="freshness"):
        load_lake(settings, freshness_required=True)
    report = load_lake(settings, max_age_days=None)
    assert "freshness" not in {c.name for c in report.checks}


def test_quality_failure_keeps_previous_snapshot(settings):
    make_lake(settings.lake_dir, days=1, per_day=5)
    load_lake(settings)
    old_inode = os.stat(settings.warehouse).st_ino
    day = "2015-03-01"
    skewed = [post_row("twitter", day, i, sentiment="positive") for i in range(400)]
    write_mentions(settings.lake_dir, "twitter", day, skewed)
    with pytest.raises(QualityError, match="sentiment_shares"):
        load_lake(settings)
    assert os.stat(settings.warehouse).st_ino == old_inode
    assert published_count(settings) == 5
    leftovers = [p.name for p in settings.warehouse.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    # the writer did load it (only publishing was refused): the checks see it
    with connect(settings.writer_warehouse) as con:
        results = run_checks(con, raise_on_failure=False, max_age_days=None)
    assert [r.name for r in results if not r.passed] == ["sentiment_shares"]


def test_publish_without_connection(settings):
    make_lake(settings.lake_dir, days=1, per_day=2)
    load_lake(settings, publish_snapshot=False)
    assert not settings.warehouse.exists()
    publish(settings)
    assert published_count(settings) == 2


def test_quality_checks_catch_orphans_and_null_keys(settings):
    with connect(settings.writer_warehouse) as con:
        con.execute(
            "INSERT INTO mentions (mention_id, post_id, polarity, loaded_at) "
            "VALUES ('m1', 'nope', 'positive', now())"
        )
        with pytest.raises(QualityError) as err:
            run_checks(con, max_age_days=None)
    assert [r.name for r in err.value.failed] == ["mentions_have_posts"]


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM mentions").fetchone()[0])
"""

PAUSED_LOADER = """
import sys, time
from pathlib import Path
from opinion.config import Settings
from opinion.warehouse import load_lake, merge
tmp = Path(sys.argv[1])
def hook(lake_path):
    (tmp / "paused").touch()
    deadline = time.time() + 60
    while not (tmp / "go").exists() and time.time() < deadline:
        time.sleep(0.05)
merge._BEFORE_COMMIT = hook
settings = Settings(data_dir=tmp, lake_dir=tmp / "lake",
                    warehouse=tmp / "warehouse" / "opinion.duckdb", state_dir=tmp / "state")
print(len(load_lake(settings).partitions_loaded))
"""


def test_reader_not_blocked_during_load(settings, tmp_path):
    make_lake(settings.lake_dir, source="twitter", days=2, per_day=3)
    load_lake(settings)
    make_lake(settings.lake_dir, source="reddit", days=2, per_day=3)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    loader = subprocess.Popen(
        [sys.executable, "-c", PAUSED_LOADER, str(tmp_path)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while not (tmp_path / "paused").exists():
            assert loader.poll() is None, loader.communicate()
            assert time.time() < deadline, "loader never reached its first commit"
            time.sleep(0.05)
        # the loader holds the writer file mid-transaction; the snapshot stays readable
        t0 = time.monotonic()
        reader = subprocess.run(
            [sys.executable, "-c", READER, str(settings.warehouse)],
            capture_output=True, text=True, timeout=30, env=env, cwd=REPO,
        )  # fmt: skip
        assert reader.returncode == 0, reader.stderr
        assert int(reader.stdout) == 12  # the previous snapshot, no half load
        assert time.monotonic() - t0 < 30
    finally:
        (tmp_path / "go").touch()
        out, err = loader.communicate(timeout=60)
    assert loader.returncode == 0, err
    assert int(out) == 2
    assert published_count(settings, "mentions") == 24


def test_row_checks_read_the_rows_written_since_the_last_passed_checks(settings):
    import pytest as _pytest

    make_lake(settings.lake_dir, days=1, per_day=3)
    load_lake(settings, max_age_days=None)
    with connect(settings.writer_warehouse) as con:
        through = con.execute(
            "SELECT value FROM load_state WHERE key = 'checks_through'"
        ).fetchone()[0]
        # an orphan written before the last passed checks: not read again by the next ones
        con.execute(
            "INSERT INTO mentions (mention_id, post_id, polarity, loaded_at) "
            "VALUES ('old', 'nope', 'positive', TIMESTAMPTZ '2001-01-01 00:00:00+00')"
        )
    write_mentions(
        settings.lake_dir, "twitter", "2015-03-02", [post_row("twitter", "2015-03-02", 0)]
    )
    load_lake(settings, max_age_days=None)  # passes: the new rows are fine
    with connect(settings.writer_warehouse) as con:
        assert (
            con.execute("SELECT value FROM load_state WHERE key = 'checks_through'").fetchone()[0]
            > through
        )
        con.execute(
            "INSERT INTO mentions (mention_id, post_id, polarity, loaded_at) "
            "VALUES ('new', 'nope', 'positive', now())"
        )
        with _pytest.raises(QualityError, match="mentions_have_posts"):
            publish(settings, con, max_age_days=None)
    with connect(settings.writer_warehouse) as con:
        con.execute("DELETE FROM mentions WHERE mention_id = 'new'")
    # a rebuild reads every row again and finds the old one
    with _pytest.raises(QualityError, match="1 mentions whose post_id is not in posts"):
        load_lake(settings, max_age_days=None, rebuild=True)


def test_duplicate_keys_fail_the_unique_keys_check(settings):
    make_lake(settings.lake_dir, days=1, per_day=3)
    load_lake(settings, max_age_days=None)
    with connect(settings.writer_warehouse) as con:
        since = con.execute("SELECT now()").fetchone()[0]
        assert run_checks(con, max_age_days=None, since=since)  # nothing new: passes
        con.execute("INSERT INTO posts SELECT * REPLACE (now() AS loaded_at) FROM posts LIMIT 1")
        with pytest.raises(QualityError, match="unique_keys") as err:
            run_checks(con, max_age_days=None, since=since)
    assert "posts.post_id" in str(err.value.failed[0].detail)
