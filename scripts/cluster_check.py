"""Run the demo corpus (or a slice) through the multi-worker deployment and compare the
warehouse with `opinion demo` on the same input.

    python scripts/cluster_check.py [--rows 1500] [--keep]

Starts `scripts/airflow-cluster.sh` (CeleryExecutor, PostgreSQL, Redis, two Celery workers,
the lake on S3-compatible storage), triggers `opinion_collect` and waits for the asset chain
collect → extract → load to finish; runs `opinion demo --input <same file>` into a local
folder with the same author salt; then compares row counts and the posts/mentions digests of
both published warehouses and checks that extract ran on both workers and load on the writer
worker (w1). Prints one JSON report; exit status 1 when anything differs. `--rows 0` runs the
whole corpus. Stops the cluster at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "scripts" / "airflow-cluster.sh"
DEMO_CSV = REPO / "data" / "demo" / "airline_tweets.csv"
DAG_IDS = ("opinion_collect", "opinion_extract", "opinion_load")

DIGESTS = {
    "posts": "SELECT count(*) FROM posts",
    "mentions": "SELECT count(*) FROM mentions",
    "posts_digest": "SELECT md5(string_agg(post_id || coalesce(sentiment, '-') || author_hash, ','"
    " ORDER BY post_id)) FROM posts",
    "mentions_digest": "SELECT md5(string_agg(mention_id || polarity, ',' ORDER BY mention_id)) "
    "FROM mentions",
}


def cluster(*args: str, capture: bool = False, env: dict | None = None) -> str:
    done = subprocess.run(
        [str(CLUSTER), *args], cwd=REPO, text=True, env=env,
        stdout=subprocess.PIPE if capture else None, check=True,
    )  # fmt: skip
    return done.stdout or ""


def cluster_env(home: Path) -> dict[str, str]:
    out = cluster("run", "env", capture=True, env={**os.environ, "OPINION_CLUSTER_HOME": str(home)})
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def write_slice(dst: Path, rows: int) -> int:
    with DEMO_CSV.open(newline="", encoding="utf-8") as src, dst.open("w", newline="") as out:
        reader, writer = csv.reader(src), csv.writer(out)
        n = -1  # data rows written (the header is row -1)
        for row in reader:
            if rows and n >= rows:
                break
            writer.writerow(row)
            n += 1
    return n


def digests(path: Path) -> dict:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return {k: con.execute(sql).fetchall()[0][0] for k, sql in DIGESTS.items()}


def metadata_db(env: dict[str, str]):
    import psycopg2

    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2", "postgresql")
    return psycopg2.connect(url)


def wait_for_dags(env: dict[str, str], timeout: float) -> None:
    """Wait until the DAG processor has stored the three DAGs (unpausing earlier is a no-op)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with metadata_db(env) as con, con.cursor() as cur:
            cur.execute("SELECT count(*) FROM dag WHERE dag_id = ANY(%s)", [list(DAG_IDS)])
            if cur.fetchone()[0] == len(DAG_IDS):
                return
        time.sleep(3)
    raise TimeoutError("the DAG processor did not store the opinion DAGs")


def wait_for_load(env: dict[str, str], started: float, timeout: float) -> dict:
    """Poll the metadata DB until opinion_load has a finished asset-triggered run after
    `started` (its 6-hourly timer run, should one fall inside the check, does not count)."""
    deadline = time.time() + timeout
    states: dict = {}
    while time.time() < deadline:
        with metadata_db(env) as con, con.cursor() as cur:
            cur.execute(
                "SELECT dag_id, state FROM dag_run WHERE start_date >= to_timestamp(%s) "
                "AND (dag_id <> 'opinion_load' OR run_type = 'asset_triggered') "
                "ORDER BY start_date", [started],
            )  # fmt: skip
            runs = cur.fetchall()
        states = {dag: state for dag, state in runs}
        if any(s == "failed" for s in states.values()) or states.get("opinion_load") in (
            "success", "failed",
        ):  # fmt: skip
            return states
        time.sleep(5)
    raise TimeoutError(f"no finished opinion_load run within {timeout:.0f}s: {states}")


def task_hosts(env: dict[str, str], started: float) -> list[tuple]:
    with metadata_db(env) as con, con.cursor() as cur:
        cur.execute(
            "SELECT dag_id, task_id, map_index, hostname, state, queue, "
            "extract(epoch FROM end_date - start_date) FROM task_instance "
            "WHERE start_date >= to_timestamp(%s) ORDER BY dag_id, task_id, map_index",
            [started],
        )
        return cur.fetchall()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500, help="demo rows (0 = all 14,640)")
    parser.add_argument("--home", type=Path, default=REPO / "airflow_cluster")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    corpus = home / "input" / "airline_tweets.csv"
    corpus.parent.mkdir(exist_ok=True)
    rows = write_slice(corpus, args.rows)
    (home / "opinion.yaml").write_text(
        "version: 1\njobs:\n  - name: airline_tweets\n    source: files\n    options:\n"
        f'      path: "{corpus}"\n      name: airline_tweets\n      mapping: AIRLINE_TWEETS\n'
        "      url_template: TWEET_URL\n"
    )
    os.environ["OPINION_CLUSTER_HOME"] = str(home)
    os.environ.setdefault("OPINION_VENV", str(Path(sys.executable).parents[1]))
    os.environ.pop("OPINION_CONFIG", None)
    shutil.rmtree(home / "warehouse", ignore_errors=True)  # each check starts empty
    report: dict = {"rows": rows}
    try:
        t0 = time.time()
        cluster("start")
        report["cluster_start_s"] = round(time.time() - t0, 1)
        env = cluster_env(home)
        report["lake"] = env["OPINION_LAKE"]
        started = time.time()
        wait_for_dags(env, args.timeout)
        # downstream first: an asset event only queues a run of a DAG that is unpaused then
        for dag_id in reversed(DAG_IDS):
            cluster("run", "airflow", "dags", "unpause", dag_id, capture=True)
        cluster("run", "airflow", "dags", "trigger", "opinion_collect", capture=True)
        report["dag_runs"] = wait_for_load(env, started - 5, args.timeout)
        report["pipeline_s"] = round(time.time() - started, 1)
        tis = task_hosts(env, started - 5)
        report["task_instances"] = [
            {"dag": d, "task": t, "map_index": m, "worker": h, "state": s, "queue": q,
             "seconds": None if secs is None else round(float(secs), 1)}
            for d, t, m, h, s, q, secs in tis
        ]  # fmt: skip
        extract_workers = sorted({h for d, t, _, h, s, *_ in tis if t == "extract_chunk"})
        load_workers = sorted({h for d, t, _, h, s, *_ in tis if t == "load"})
        report["extract_workers"], report["load_workers"] = extract_workers, load_workers

        ref = home / "reference"
        shutil.rmtree(ref, ignore_errors=True)
        ref_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPINION_"))}
        ref_env.update(
            OPINION_AUTHOR_SALT=env["OPINION_AUTHOR_SALT"], OPINION_STATE=str(ref / "state"),
            PYTHONPATH=str(REPO), TQDM_DISABLE="1", HF_HUB_OFFLINE="1",
        )  # fmt: skip
        t1 = time.time()
        subprocess.run(
            [str(Path(sys.executable).with_name("opinion")), "demo", "--input", str(corpus),
             "--warehouse", str(ref / "opinion.duckdb"), "--lake", str(ref / "lake")],
            env=ref_env, cwd=REPO, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        report["demo_s"] = round(time.time() - t1, 1)
        report["cluster_warehouse"] = digests(home / "warehouse" / "opinion.duckdb")
        report["demo_warehouse"] = digests(ref / "opinion.duckdb")
    except Exception as exc:  # noqa: BLE001 - the JSON report says what broke, then rc 1
        report["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
    finally:
        if not args.keep:
            cluster("stop")  # also after a failed start: nothing is left running
    ok = (
        "error" not in report
        and report["dag_runs"].get("opinion_load") == "success"
        and report["cluster_warehouse"] == report["demo_warehouse"]
        and report["extract_workers"] == ["w1", "w2"]
        and report["load_workers"] == ["w1"]
    )
    report["identical_to_demo"] = report.get("cluster_warehouse") == report.get("demo_warehouse")
    report["ok"] = ok
    print(json.dumps(report, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
