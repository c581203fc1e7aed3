"""SIGKILL a loader inside a partition's transaction; the re-run must lose and double nothing."""

import os
import signal
import subprocess
import sys
import time

from opinion.warehouse import connect, load_lake

from .conftest import REPO, make_lake

KILLABLE_LOADER = """
import sys, time
from pathlib import Path
from opinion.config import Settings
from opinion.warehouse import load_lake, merge
tmp = Path(sys.argv[1])
seen = []
def hook(lake_path):
    seen.append(lake_path)
    if len(seen) == 3:  # partitions 1 and 2 are committed, 3 is mid-transaction
        (tmp / "in_third_transaction").write_text(lake_path)
        time.sleep(120)
merge._BEFORE_COMMIT = hook
merge.BATCH_PARTITIONS = 1  # one transaction per partition: kill between partitions
settings = Settings(data_dir=tmp, lake_dir=tmp / "lake",
                    warehouse=tmp / "warehouse" / "opinion.duckdb", state_dir=tmp / "state")
load_lake(settings)
"""


def test_kill_mid_load_leaves_no_half_partition(settings, tmp_path):
    rows = make_lake(settings.lake_dir, days=6, per_day=20)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_LOADER, str(tmp_path)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    marker = tmp_path / "in_third_transaction"
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "loader never reached the third partition"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # on reopen DuckDB replays committed work only: exactly two whole partitions
    with connect(settings.writer_warehouse) as con:
        assert con.execute("SELECT count(*) FROM loaded_partitions").fetchone()[0] == 2
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 40
        assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 80
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
        killed = marker.read_text()
        assert (
            con.execute("SELECT count(*) FROM posts WHERE lake_partition = ?", [killed]).fetchone()[
                0
            ]
            == 0
        )

    report = load_lake(settings)
    assert len(report.partitions_loaded) == 4 and report.partitions_skipped == 2
    with connect(settings.warehouse, read_only=True) as con:
        posts = con.execute("SELECT count(*), count(DISTINCT post_id) FROM posts").fetchone()
        assert posts == (len(rows), len(rows))
        sql = "SELECT count(*), count(DISTINCT mention_id) FROM mentions"
        assert con.execute(sql).fetchone() == (2 * len(rows), 2 * len(rows))
        per_partition = con.execute(
            "SELECT partition, count(*) FROM runs WHERE status = 'ok' GROUP BY ALL"
        ).fetchall()
        assert len(per_partition) == 6 and all(n == 1 for _, n in per_partition)
