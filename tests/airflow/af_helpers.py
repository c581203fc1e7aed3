"""Helpers for the Airflow tests: every Airflow run happens in a subprocess whose environment
(AIRFLOW_HOME under tmp, the repo's airflow.cfg, OPINION_* paths) is set before Airflow is
imported, so nothing touches the developer's airflow_home/ or data/."""

from __future__ import annotations

import base64
import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_CSV = REPO / "data" / "demo" / "airline_tweets.csv"
DAGS = REPO / "dags"
RUN_DAG = Path(__file__).with_name("run_dag.py")
AIRFLOW = Path(sys.executable).with_name("airflow")
DAG_IDS = ("opinion_collect", "opinion_extract", "opinion_load")
SLICE_ROWS = 150


def airflow_env(home: Path, dags_folder: Path = DAGS, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPINION_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW_CONFIG=str(REPO / "airflow.cfg"),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
        AIRFLOW__CORE__FERNET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        AIRFLOW__API_AUTH__JWT_SECRET=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        AIRFLOW__API__SECRET_KEY=base64.urlsafe_b64encode(os.urandom(16)).decode(),
        OPINION_AUTHOR_SALT=os.environ.get("OPINION_AUTHOR_SALT", "test-salt-not-secret"),
        OPINION_AIRFLOW_RETRY_DELAY_S="1",
        # Airflow 3.3.2's dag.test() cannot finish a run of a DAG with a DeadlineAlert
        # (opinion.orchestration.load_deadline); the DAG-integrity test turns it back on
        OPINION_LOAD_DEADLINE_H="0",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=str(REPO),
        TOKENIZERS_PARALLELISM="false",
        TQDM_DISABLE="1",
        HF_HUB_OFFLINE="1",
    )
    env.update(extra)
    return env


def init_airflow_home(env: dict[str, str]) -> None:
    """`airflow db migrate` + the DuckDB pool, as `make airflow` does."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    for cmd in (
        [str(AIRFLOW), "db", "migrate"],
        [str(AIRFLOW), "pools", "set", "opinion_duckdb", "1", "single DuckDB writer"],
    ):
        done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def run_dag(env: dict[str, str], dag_id: str, dags_folder: Path = DAGS, timeout: int = 900):
    """Run one DAG with dag.test() in a subprocess; (returncode, summary dict, output)."""
    done = subprocess.run(
        [sys.executable, str(RUN_DAG), str(dags_folder), dag_id],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return done.returncode, parse_summary(done.stdout), done.stdout + done.stderr


def parse_summary(output: str) -> dict | None:
    for line in output.splitlines():
        if line.startswith("RUN_SUMMARY "):
            return json.loads(line.removeprefix("RUN_SUMMARY "))
    return None


def write_demo_slice(path: Path, rows: int) -> Path:
    """The header plus the first `rows` data rows of the demo corpus."""
    with DEMO_CSV.open(newline="", encoding="utf-8") as src, path.open("w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        for i, row in enumerate(reader):
            if i > rows:
                break
            writer.writerow(row)
    return path


def asset_events(env: dict[str, str], uri: str) -> int:
    """Asset events Airflow recorded for `uri` in this AIRFLOW_HOME's metadata DB (SQLite)."""
    with sqlite3.connect(f"{env['AIRFLOW_HOME']}/airflow.db") as con:
        row = con.execute(
            "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ?",
            [uri],
        ).fetchone()
    return int(row[0])
