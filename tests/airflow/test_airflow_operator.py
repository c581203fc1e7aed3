"""The operator bars in a real Airflow run (dag.test): a typo'd job and a missing input file
fail at once (first try, well under 30 s) while the healthy job's posts reach the warehouse;
a renamed required column fails the collect run red with the reject ratio in the log; a
no-op collect or extract emits no asset event (the next DAG would not run)."""

from __future__ import annotations

import csv

import duckdb
from af_helpers import airflow_env, asset_events, init_airflow_home, run_dag, write_demo_slice

BAD_JOBS = """\
  - name: typo_job
    source: files
    options:
      path: "{data_dir}/demo/airline_tweets.csv"
      name: typo_tweets
      mapping: AIRLINE_TWEETZ
  - name: missing_file
    source: files
    options:
      path: "{data_dir}/demo/not_there.csv"
      name: missing_tweets
      mapping: AIRLINE_TWEETS
"""


def _env(tmp_path, data, config):
    env = airflow_env(
        tmp_path / "airflow_home",
        OPINION_CONFIG=str(config),
        OPINION_DATA=str(data),
        OPINION_LAKE=str(tmp_path / "lake"),
        OPINION_WAREHOUSE=str(tmp_path / "warehouse" / "opinion.duckdb"),
        OPINION_STATE=str(tmp_path / "state"),
    )
    init_airflow_home(env)
    return env


def _tis(summary) -> dict:
    return {(t["task_id"], t["map_index"]): t for t in summary["tis"]}


def test_bad_jobs_fail_alone_and_fast_noop_emits_nothing(tmp_path, demo_slice_data):
    config = tmp_path / "opinion.yaml"
    config.write_text(config.read_text() + BAD_JOBS)
    env = _env(tmp_path, demo_slice_data, config)

    rc, summary, output = run_dag(env, "opinion_collect")
    (tmp_path / "collect.log").write_text(output)
    assert rc == 1 and summary["state"] == "failed", output[-6000:]
    tis = _tis(summary)
    by_job = {t["rendered_map_index"]: t for (task, _), t in tis.items() if task == "collect_one"}
    assert set(by_job) == {"airline_tweets", "typo_job", "missing_file"}, by_job
    assert by_job["airline_tweets"]["state"] == "success"
    for bad in ("typo_job", "missing_file"):
        assert by_job[bad]["state"] == "failed" and by_job[bad]["try_number"] == 1, by_job[bad]
        assert by_job[bad]["duration"] < 30, by_job[bad]
    assert asset_events(env, "opinion://lake/raw") == 1  # emitted by the healthy job's task
    assert tis[("all_jobs_ok", -1)]["state"] == "upstream_failed"  # ... and the run is red
    assert "terminal, not retried: ConfigError: opinion.yaml job 'typo_job'" in output
    assert "terminal, not retried: FileNotFoundError: input file not found" in output

    for dag_id in ("opinion_extract", "opinion_load"):
        rc, summary, output = run_dag(env, dag_id)
        assert rc == 0 and summary["state"] == "success", output[-6000:]
    with (demo_slice_data / "demo" / "airline_tweets.csv").open(newline="") as fh:
        ids = {row["tweet_id"] for row in csv.DictReader(fh)}
    warehouse = tmp_path / "warehouse" / "opinion.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        posts = con.execute("SELECT count(*), count(DISTINCT source) FROM posts").fetchall()[0]
    assert posts == (len(ids), 1)

    # a no-op trigger: nothing collected, no raw event; nothing pending, no mentions event
    published = warehouse.stat().st_mtime_ns
    rc, summary, output = run_dag(env, "opinion_collect")
    noop = {t["rendered_map_index"]: t for t in summary["tis"] if t["task_id"] == "collect_one"}
    assert noop["airline_tweets"]["state"] == "skipped", output[-6000:]
    assert asset_events(env, "opinion://lake/raw") == 1  # no new raw event
    rc, summary, output = run_dag(env, "opinion_extract")
    assert rc == 0, output[-6000:]
    tis = _tis(summary)
    assert tis[("extracted", -1)]["state"] == "skipped", output[-6000:]  # nothing waits
    assert asset_events(env, "opinion://lake/mentions") == 1  # only the first extract's
    assert not [
        t for (task, _), t in tis.items() if task == "extract_chunk" and t["state"] == "success"
    ]
    assert warehouse.stat().st_mtime_ns == published


def test_renamed_required_column_fails_the_collect_run(tmp_path, demo_slice_data):
    csv_path = demo_slice_data / "demo" / "airline_tweets.csv"
    text = write_demo_slice(csv_path, 80).read_text()
    csv_path.write_text(text.replace("tweet_id", "id_str", 1))
    config = tmp_path / "opinion.yaml"
    env = _env(tmp_path, demo_slice_data, config)
    rc, summary, output = run_dag(env, "opinion_collect")
    assert rc == 1 and summary["state"] == "failed", output[-6000:]
    (ti,) = [t for t in summary["tis"] if t["task_id"] == "collect_one"]
    assert ti["state"] == "failed" and ti["try_number"] == 1
    assert "80 of 80 rows rejected (reject ratio 100.0% > limit 10.0%)" in output
    assert "missing required field(s) ×80" in output
