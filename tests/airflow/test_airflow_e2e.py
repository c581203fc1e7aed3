"""End to end through Airflow: collect → extract → load with dag.test() on a 150-row slice of
the demo corpus must leave the warehouse a direct run of the library's stages leaves; a load killed
mid-transaction and re-run loses and doubles nothing; the second round changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
from af_helpers import DAG_IDS, DAGS, REPO, RUN_DAG, airflow_env, init_airflow_home, run_dag

TABLES = ("posts", "mentions", "rejects")


def _snapshot(path) -> dict:
    """Row counts and content digests of the published (read-only) warehouse."""
    with duckdb.connect(str(path), read_only=True) as con:
        out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        out["distinct_posts"] = con.execute("SELECT count(DISTINCT post_id) FROM posts").fetchone()[
            0
        ]
        out["dups"] = con.execute("SELECT count(dup_of) FROM posts").fetchone()[0]
        out["posts_digest"] = con.execute(
            "SELECT md5(string_agg(post_id || coalesce(sentiment, '-'), ',' ORDER BY post_id)) "
            "FROM posts"
        ).fetchone()[0]
        out["mentions_digest"] = con.execute(
            "SELECT md5(string_agg(mention_id || polarity, ',' ORDER BY mention_id)) FROM mentions"
        ).fetchone()[0]
    return out


def _writer_counts(path) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("runs", "loaded_partitions")
        }


def _direct_pipeline(data, out) -> dict:
    """The same slice straight through the library's stages (no Airflow) into another warehouse."""
    from opinion.config import Settings
    from opinion.extract.stage import extract_partitions, pending_partitions
    from opinion.orchestration import collect_job, job_names
    from opinion.warehouse.load import run_load as load

    settings = Settings.from_env(
        data_dir=data, lake_dir=out / "lake", warehouse=out / "warehouse" / "opinion.duckdb",
        state_dir=out / "state", brands_file=data / "brands" / "airlines.yaml",
    )  # fmt: skip
    assert job_names(settings) == ["airline_tweets"]
    for name in job_names(settings):
        collect_job(settings, name)
    extract_partitions(settings, pending_partitions(settings))  # its own engine, as `opinion demo`
    load(settings)
    return _snapshot(settings.warehouse)


def _run_all(env) -> None:
    for dag_id in DAG_IDS:
        rc, summary, output = run_dag(env, dag_id)
        assert rc == 0 and summary and summary["state"] == "success", output[-6000:]


def _killed_load(env, marker) -> None:
    """Start opinion_load, wait until the loader is inside a partition transaction, SIGKILL."""
    proc = subprocess.Popen(
        [sys.executable, str(RUN_DAG), str(DAGS), "opinion_load", "--kill-marker", str(marker)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 180
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[0][-6000:]
            assert time.time() < deadline, "the load task never reached a partition transaction"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_dags_match_direct_pipeline_survive_kill_and_are_idempotent(
    tmp_path, demo_slice_data, monkeypatch
):
    lake, wh = tmp_path / "lake", tmp_path / "warehouse" / "opinion.duckdb"
    config = tmp_path / "opinion.yaml"
    monkeypatch.setenv("OPINION_CONFIG", str(config))
    env = airflow_env(
        tmp_path / "airflow_home",
        OPINION_CONFIG=str(config),
        OPINION_DATA=str(demo_slice_data),
        OPINION_LAKE=str(lake),
        OPINION_WAREHOUSE=str(wh),
        OPINION_STATE=str(tmp_path / "state"),
    )
    init_airflow_home(env)
    expected = _direct_pipeline(demo_slice_data, tmp_path / "direct")
    assert expected["posts"] > 0 and expected["mentions"] > 0

    # round 1: collect, extract, then a load killed mid-transaction, then the load again
    for dag_id in ("opinion_collect", "opinion_extract"):
        rc, summary, output = run_dag(env, dag_id)
        assert rc == 0 and summary["state"] == "success", output[-6000:]
    _killed_load(env, tmp_path / "in_transaction")
    assert not wh.exists(), "a killed first load must not publish a snapshot"
    rc, summary, output = run_dag(env, "opinion_load")
    assert rc == 0 and summary["state"] == "success", output[-6000:]
    first = _snapshot(wh)
    assert first == expected
    assert first["distinct_posts"] == first["posts"]
    writer = wh.with_name("opinion.writer.duckdb")
    bookkeeping = _writer_counts(writer)

    # round 2: the whole sequence again changes nothing
    _run_all(env)
    assert _snapshot(wh) == first
    assert _writer_counts(writer) == bookkeeping
    assert os.environ.get("AIRFLOW_HOME") != env["AIRFLOW_HOME"]
