"""Clean stops (F3): the stop of `make airflow` / `airflow-cluster.sh stop` also ends task
processes that run in process groups of their own, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from af_helpers import REPO

SLEEPER = "import time; time.sleep(120)"


def _spawn(home, argv0: str) -> subprocess.Popen:
    """A process in a session (and process group) of its own, as Airflow's task processes are,
    with this AIRFLOW_HOME; `argv0` is the title it shows (a task is `airflow worker -- …`)."""
    env = {**os.environ, "AIRFLOW_HOME": str(home)}
    return subprocess.Popen(
        [argv0, "-c", SLEEPER], executable=sys.executable, env=env, start_new_session=True
    )


def _gone(proc: subprocess.Popen) -> bool:
    for _ in range(100):
        if proc.poll() is not None:
            return True
        time.sleep(0.1)
    return False


def test_stop_ends_orphaned_task_groups_of_this_home_only(tmp_path):
    home, other = tmp_path / "airflow_home", tmp_path / "other_home"
    task = _spawn(home, "airflow worker -- opinion_extract.extract_chunk")
    not_airflow = _spawn(home, "python")  # e.g. a shell tool that sourced airflow-env.sh
    other_task = _spawn(other, "airflow worker -- another deployment")
    try:
        done = subprocess.run(
            ["bash", "-c", 'source scripts/airflow-procs.sh && opinion_stop_airflow "$1"', "-",
             str(home)],
            cwd=REPO, capture_output=True, text=True, timeout=120,
            env={**os.environ, "AIRFLOW_HOME": str(home)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "ended 1 Airflow process group(s)" in done.stdout, done.stdout + done.stderr
        assert _gone(task), "the orphaned task process survived the stop"
        assert not_airflow.poll() is None and other_task.poll() is None
    finally:
        for proc in (task, not_airflow, other_task):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
