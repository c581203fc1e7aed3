"""Run one DAG from a DAG folder with `dag.test()` in this process; print a JSON summary.

    python tests/airflow/run_dag.py DAGS_FOLDER DAG_ID [--kill-marker PATH]

The environment (AIRFLOW_HOME, AIRFLOW_CONFIG, OPINION_*) must be set by the caller, before
Airflow is imported — that is why the tests run this as a subprocess. With `--kill-marker`,
the loader pauses inside its first partition transaction (before COMMIT) after writing PATH,
so the caller can SIGKILL the process there. Exit status 0 when the run succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dags_folder")
    parser.add_argument("dag_id")
    parser.add_argument("--kill-marker")
    args = parser.parse_args()

    if args.kill_marker:
        from opinion.warehouse import merge

        def pause_before_commit(lake_path: str) -> None:
            Path(args.kill_marker).write_text(lake_path)
            time.sleep(300)

        merge._BEFORE_COMMIT = pause_before_commit

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=args.dags_folder)
    if bag.import_errors:
        print(json.dumps({"import_errors": {str(k): v for k, v in bag.import_errors.items()}}))
        return 2
    dag = bag.get_dag(args.dag_id)
    started = time.perf_counter()
    dr = dag.test()
    tis = [
        {
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "state": str(getattr(ti.state, "value", ti.state)),
            "try_number": ti.try_number,
            "duration": ti.duration,
            "rendered_map_index": getattr(ti, "rendered_map_index", None),
        }
        for ti in dr.get_task_instances()
    ]
    state = str(getattr(dr.state, "value", dr.state))
    summary = {"dag_id": args.dag_id, "state": state, "seconds": time.perf_counter() - started}
    print("RUN_SUMMARY " + json.dumps({**summary, "tis": tis}), flush=True)
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
