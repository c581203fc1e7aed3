"""DAG integrity: the DAG folder imports cleanly, every DAG carries the operating defaults,
and each file parses fast without importing the heavy NLP stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from af_helpers import DAG_IDS, DAGS, REPO, airflow_env

INSPECT = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=%r)
out = {"import_errors": {str(k): v for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tags": sorted(dag.tags),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "schedule": repr(getattr(dag.timetable, "asset_condition", dag.timetable)),
        "timetable": type(dag.timetable).__name__,
        "params": sorted(dag.params),
        "deadline": [
            {"reference": type(d.reference).__name__, "interval": d.interval.total_seconds(),
             "callback": d.callback.path}
            for d in (dag.deadline or [])
        ],
        "tasks": {
            t.task_id: {
                "owner": t.owner, "retries": t.retries,
                "retry_exponential_backoff": float(t.retry_exponential_backoff or 0),
                "max_retry_delay": str(t.max_retry_delay), "pool": t.pool,
                "has_failure_callback": bool(t.on_failure_callback),
                "failure_callbacks": [type(c).__name__ for c in (t.on_failure_callback or [])],
                "execution_timeout": str(t.execution_timeout or ""),
                "queue": t.queue,
                "map_index_template": getattr(t, "map_index_template", None),
                "outlets": [getattr(o, "uri", str(o)) for o in t.outlets],
            }
            for t in dag.tasks
        },
    }
print("INSPECT " + json.dumps(out))
"""

PARSE = """
import json, runpy, sys, time
t0 = time.perf_counter()
import airflow.sdk  # what the DAG processor has loaded already
t1 = time.perf_counter()
runpy.run_path(sys.argv[1])
t2 = time.perf_counter()
heavy = [m for m in ("torch", "transformers", "spacy", "sentence_transformers", "duckdb")
         if m in sys.modules]
print("PARSE " + json.dumps({"airflow": t1 - t0, "file": t2 - t1, "total": t2 - t0,
                             "heavy": heavy}))
"""


def _last_json(prefix: str, output: str) -> dict:
    lines = [ln for ln in output.splitlines() if ln.startswith(prefix + " ")]
    assert lines, output[-3000:]
    return json.loads(lines[-1].removeprefix(prefix + " "))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory) -> dict:
    env = airflow_env(tmp_path_factory.mktemp("airflow_home"), OPINION_LOAD_DEADLINE_H="4")
    done = subprocess.run(
        [sys.executable, "-c", INSPECT % str(DAGS)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return _last_json("INSPECT", done.stdout)


def test_dag_folder_imports_without_errors(dagbag):
    assert dagbag["import_errors"] == {}
    assert sorted(dagbag["dags"]) == sorted(DAG_IDS)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_dag_has_tags_owner_retries_and_callback(dagbag, dag_id):
    dag = dagbag["dags"][dag_id]
    assert "opinion" in dag["tags"]
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    for task_id, task in dag["tasks"].items():
        assert task["owner"] == "opinion", task_id
        assert task["retries"] >= 2, task_id
        assert task["retry_exponential_backoff"] > 0, task_id
        assert task["max_retry_delay"] not in ("None", ""), task_id
        assert task["has_failure_callback"], task_id
        assert "OpinionNotifier" in task["failure_callbacks"], task_id  # alerts reach a person
        assert task["execution_timeout"], f"{task_id} has no execution_timeout"


def test_asset_chain_and_duckdb_pool(dagbag):
    dags = dagbag["dags"]
    outlets = {d: [u for t in dags[d]["tasks"].values() for u in t["outlets"]] for d in dags}
    assert outlets["opinion_collect"] == ["opinion://lake/raw"]
    assert outlets["opinion_extract"] == ["opinion://lake/mentions"]
    assert "opinion://lake/raw" in dags["opinion_extract"]["schedule"]
    assert "opinion://lake/mentions" in dags["opinion_load"]["schedule"]
    assert dags["opinion_load"]["tasks"]["load"]["pool"] == "opinion_duckdb"
    assert dags["opinion_load"]["tasks"]["load"]["queue"] == "opinion_writer"
    collect, extract = dags["opinion_collect"]["tasks"], dags["opinion_extract"]["tasks"]
    assert set(collect) == {"list_jobs", "collect_one", "all_jobs_ok"}
    assert set(extract) == {"plan", "extract_chunk", "extracted"}
    assert collect["collect_one"]["map_index_template"] == "{{ job_name }}"
    # F4: each job emits the raw asset itself, with a short retry budget
    assert collect["collect_one"]["outlets"] == ["opinion://lake/raw"]
    assert collect["collect_one"]["retries"] == 2
    assert collect["collect_one"]["max_retry_delay"] == "0:02:00"
    assert {"min_rows_ratio", "max_reject_ratio"} <= set(dags["opinion_collect"]["params"])
    # F2/F5: the load also runs on a timer, checks freshness and has a deadline that alerts
    load = dags["opinion_load"]
    assert load["timetable"] == "AssetOrTimeSchedule"
    assert set(load["tasks"]) == {"load", "deliver_alerts", "freshness"}
    assert load["tasks"]["deliver_alerts"]["queue"] == "opinion_writer"
    assert load["tasks"]["freshness"]["queue"] == "opinion_writer"
    (deadline,) = load["deadline"]
    assert deadline["reference"] == "DagRunQueuedAtDeadline"
    assert deadline["callback"] == "opinion.notify.deadline_missed"
    assert extract["extract_chunk"]["map_index_template"] == "{{ chunk_label }}"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_file_parses_fast_and_light(tmp_path, dag_id):
    env = airflow_env(tmp_path / "airflow_home")
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAGS / f"{dag_id}.py")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = _last_json("PARSE", done.stdout)
    assert result["heavy"] == [], f"{dag_id} imports {result['heavy']} at parse time"
    assert result["file"] < 2.0, result
    assert result["total"] < 10.0, result  # Airflow's own import included; loose on busy CI


def test_chunking_gives_each_task_several_partitions():
    from opinion.orchestration import chunk

    names = [f"s/2015-02-{d:02d}" for d in range(1, 20)]
    chunks = chunk(names, max_chunks=2, min_per_chunk=4)
    assert len(chunks) == 2 and sorted(sum(chunks, [])) == names
    assert len(chunk(names[:5], max_chunks=4, min_per_chunk=4)) == 2
    assert chunk([], 2, 4) == []
