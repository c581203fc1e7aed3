#!/usr/bin/env bash
# A real multi-worker opinion deployment on this machine (docs/airflow.md "Multi-worker"):
# PostgreSQL metadata DB, Redis broker, Airflow with the CeleryExecutor (scheduler, DAG
# processor, API server) and two Celery workers, the lake on S3-compatible object storage.
#
#   scripts/airflow-cluster.sh start     # start everything (idempotent), DAGs paused
#   scripts/airflow-cluster.sh stop      # stop everything this script started: every worker
#                                        # (w3... too), the task processes in their own process
#                                        # groups, Postgres; it says how many groups it ended
#   scripts/airflow-cluster.sh add-worker NAME   # one more Celery worker on `default`
#   scripts/airflow-cluster.sh status
#   scripts/airflow-cluster.sh run CMD...  # run CMD in this deployment's environment, e.g.
#                                          #   scripts/airflow-cluster.sh run airflow dags list
#
# State lives in $OPINION_CLUSTER_HOME (default <repo>/airflow_cluster, git-ignored): pg/,
# redis/, s3/ (a moto server in its own venv: moto needs python-dateutil<3, the project pins 4),
# home/ (AIRFLOW_HOME), w1/ w2/ (each worker's private OPINION_STATE), warehouse/ (the writer's
# persistent DuckDB files), logs/. Worker w1 listens on the queues `default,opinion_writer`
# and is the only one that runs opinion_load (the DuckDB writer); w2 listens on `default`.
# Set OPINION_S3_ENDPOINT_URL (+ AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) to use MinIO or AWS S3
# instead of the local moto server; OPINION_LAKE=s3://bucket/prefix picks the bucket.
set -euo pipefail
_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/airflow-procs.sh
source "$_repo/scripts/airflow-procs.sh"
CL="${OPINION_CLUSTER_HOME:-$_repo/airflow_cluster}"
VENV="${OPINION_VENV:-$_repo/.venv}"
PG_PORT="${OPINION_PG_PORT:-54329}"
REDIS_PORT="${OPINION_REDIS_PORT:-63799}"
S3_PORT="${OPINION_S3_PORT:-59000}"
API_PORT="${OPINION_API_PORT:-8089}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"

as_pg() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_env() {
  mkdir -p "$CL"
  if [ ! -s "$CL/secrets.env" ]; then
    ( umask 077
      "$VENV/bin/python" - > "$CL/secrets.env.tmp" <<'PY'
import base64, os, secrets
print("AIRFLOW__CORE__FERNET_KEY=" + base64.urlsafe_b64encode(os.urandom(32)).decode())
print("AIRFLOW__API_AUTH__JWT_SECRET=" + secrets.token_urlsafe(48))
print("AIRFLOW__API__SECRET_KEY=" + secrets.token_urlsafe(32))
print("OPINION_AUTHOR_SALT=" + secrets.token_hex(16))
print("OPINION_S3_KEY=cluster-" + secrets.token_hex(4))
print("OPINION_S3_SECRET=" + secrets.token_urlsafe(24))
PY
    ) && mv "$CL/secrets.env.tmp" "$CL/secrets.env"
  fi
  set -a; source "$CL/secrets.env"; set +a
  export PATH="$VENV/bin:$PATH"
  export PYTHONPATH="$_repo${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's opinion package
  export AIRFLOW_HOME="$CL/home" AIRFLOW_CONFIG="$_repo/airflow.cfg"
  export AIRFLOW__CORE__DAGS_FOLDER="$_repo/dags"
  export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
  export AIRFLOW__CORE__PARALLELISM=8
  export AIRFLOW__CORE__HOSTNAME_CALLABLE=opinion.orchestration.worker_hostname
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airflow@127.0.0.1:$PG_PORT/airflow"
  export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql+psycopg2://airflow@127.0.0.1:$PG_PORT/airflow"
  export AIRFLOW__CELERY__WORKER_CONCURRENCY=1
  export AIRFLOW__API__PORT="$API_PORT"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
  export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$CL/home/passwords.json"
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$CL/home/logs"
  export AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY="$CL/home/logs/dag_processor"
  export OPINION_LAKE="${OPINION_LAKE:-s3://opinion-lake/lake}"
  export OPINION_CONFIG="${OPINION_CONFIG:-$CL/opinion.yaml}"  # default: a copy of opinion.yaml
  # the lake's endpoint and keys reach the tasks through the Airflow connection `opinion_lake`
  # (opinion.orchestration reads it); a real deployment keeps it in a secrets backend
  local endpoint="${OPINION_S3_ENDPOINT_URL:-http://127.0.0.1:$S3_PORT}"
  local key="${AWS_ACCESS_KEY_ID:-$OPINION_S3_KEY}" secret="${AWS_SECRET_ACCESS_KEY:-$OPINION_S3_SECRET}"
  export AIRFLOW_CONN_OPINION_LAKE="{\"conn_type\": \"aws\", \"login\": \"$key\", \"password\": \"$secret\", \"extra\": {\"endpoint_url\": \"$endpoint\", \"region_name\": \"us-east-1\"}}"
  export OPINION_CLUSTER_ENDPOINT="$endpoint"
  export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
  export OPINION_AIRFLOW_RETRY_DELAY_S="${OPINION_AIRFLOW_RETRY_DELAY_S:-5}"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit="$1" what="$2"; shift 2
  for _ in $(seq "$limit"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "airflow-cluster: $what did not come up in ${limit}s (logs in $CL/logs)" >&2; return 1
}

running() { [ -s "$CL/run/$1.pid" ] && kill -0 "$(cat "$CL/run/$1.pid")" 2>/dev/null; }

spawn() {  # spawn NAME COMMAND... : background, own process group, pid in run/NAME.pid
  local name="$1"; shift
  running "$name" && return 0
  setsid "$@" >> "$CL/logs/$name.log" 2>&1 < /dev/null &  # append: a restart keeps the log (F9)
  echo $! > "$CL/run/$name.pid"
}

start_pg() {
  [ -n "$PG_BIN" ] || { echo "airflow-cluster: PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
  if [ ! -s "$CL/pg/PG_VERSION" ]; then
    mkdir -p "$CL/pg"; chmod 700 "$CL/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$CL/pg" "$CL/logs"
    as_pg "$PG_BIN/initdb" -D "$CL/pg" -U airflow --auth=trust -E UTF8 > "$CL/logs/initdb.log"
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$CL/pg" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$CL/pg" -l "$CL/logs/postgres.log" -w start \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp" > /dev/null
  fi
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U airflow -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='airflow'" | grep -q 1 \
    || as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U airflow airflow
}

start_redis() {
  command -v redis-server >/dev/null || { echo "airflow-cluster: apt-get install -y redis-server" >&2; exit 1; }
  mkdir -p "$CL/redis"
  running redis || spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --dir "$CL/redis" --save "" --appendonly no
  wait_for 30 redis redis-cli -p "$REDIS_PORT" ping
}

start_s3() {
  if [ -z "${OPINION_S3_ENDPOINT_URL:-}" ]; then
    if [ ! -x "$CL/s3/venv/bin/moto_server" ]; then
      python3 -m venv "$CL/s3/venv"
      "$CL/s3/venv/bin/pip" install -q --disable-pip-version-check "moto[server]" \
        > "$CL/logs/moto-install.log" 2>&1
    fi
    running s3 || spawn s3 "$CL/s3/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
    wait_for 60 "S3 server" curl -sf "http://127.0.0.1:$S3_PORT/moto-api/"
  fi
  # the bucket, through the same storage layer the tasks use
  AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-$OPINION_S3_KEY}" \
  AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-$OPINION_S3_SECRET}" \
  OPINION_S3_ENDPOINT_URL="$OPINION_CLUSTER_ENDPOINT" PYTHONPATH="$_repo" \
    "$VENV/bin/python" -c "
import os
from opinion.lake.storage import lake_path
root = lake_path(os.environ['OPINION_LAKE'])
bucket = root.path.split('/')[0]
if not root.fs.exists(bucket):
    root.fs.mkdir(bucket)
"
}

start_airflow() {
  airflow db migrate > "$CL/logs/db-migrate.log" 2>&1 || { tail -n 30 "$CL/logs/db-migrate.log"; exit 1; }
  airflow pools set opinion_duckdb 1 "single DuckDB writer (opinion_load)" > /dev/null
  spawn scheduler airflow scheduler
  spawn dag-processor airflow dag-processor
  # the admin password file, generated owner-only before the API server would create it with
  # the umask's mode (world-readable under umask 022: F13)
  local passwords="$CL/home/passwords.json"
  if [ ! -s "$passwords" ]; then
    ( umask 077
      "$VENV/bin/python" -c 'import json, secrets; print(json.dumps({"admin": secrets.token_urlsafe(16)}))' \
        > "$passwords.tmp" ) && mv "$passwords.tmp" "$passwords"
  fi
  chmod 600 "$passwords"
  spawn api-server airflow api-server --port "$API_PORT"
  mkdir -p "$CL/w1/state" "$CL/w2/state" "$CL/warehouse"
  # w1: the only worker on the writer queue, with the warehouse's persistent path
  spawn worker-w1 env OPINION_WORKER_NAME=w1 OPINION_STATE="$CL/w1/state" \
    OPINION_WAREHOUSE="$CL/warehouse/opinion.duckdb" \
    airflow celery worker --queues default,opinion_writer --concurrency 1 \
    --celery-hostname "w1@%h" --skip-serve-logs
  spawn worker-w2 env OPINION_WORKER_NAME=w2 OPINION_STATE="$CL/w2/state" \
    OPINION_WAREHOUSE="$CL/w2/no-warehouse-here/opinion.duckdb" \
    airflow celery worker --queues default --concurrency 1 --celery-hostname "w2@%h" \
    --skip-serve-logs
  wait_for 300 "the API server" curl -sf "http://127.0.0.1:$API_PORT/api/v2/monitor/health"
}

add_worker() {  # add_worker NAME: one more worker on the default queue (never the writer)
  local name="$1"
  [[ "$name" =~ ^[a-z0-9]+$ ]] || { echo "airflow-cluster: worker name [a-z0-9]+" >&2; exit 2; }
  mkdir -p "$CL/$name/state"
  spawn "worker-$name" env OPINION_WORKER_NAME="$name" OPINION_STATE="$CL/$name/state" \
    OPINION_WAREHOUSE="$CL/$name/no-warehouse-here/opinion.duckdb" \
    airflow celery worker --queues default --concurrency 1 --celery-hostname "$name@%h" \
    --skip-serve-logs
  echo "worker $name started (queue default; log $CL/logs/worker-$name.log)"
}

stop_all() {
  # every process this script spawned (workers added with add-worker included), workers first
  local names name
  names="$(cd "$CL/run" && ls -- *.pid 2>/dev/null | sed 's/\.pid$//' | sort -r | tr '\n' ' ')"
  for name in $names; do
    if running "$name"; then kill -TERM -- "-$(cat "$CL/run/$name.pid")" 2>/dev/null || true; fi
  done
  sleep 3
  for name in $names; do
    if running "$name"; then kill -KILL -- "-$(cat "$CL/run/$name.pid")" 2>/dev/null || true; fi
    rm -f "$CL/run/$name.pid"
  done
  if [ -n "$PG_BIN" ] && [ -s "$CL/pg/PG_VERSION" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$CL/pg" -m fast stop > /dev/null 2>&1 || true
  fi
  # task processes run in process groups of their own: end them too (F3)
  opinion_stop_airflow "$AIRFLOW_HOME"
}

case "${1:-}" in
  run) shift; cluster_env; exec "$@" ;;
  start)
    cluster_env
    mkdir -p "$CL/logs" "$CL/run"
    [ -s "$OPINION_CONFIG" ] || cp "$_repo/opinion.yaml" "$OPINION_CONFIG"
    start_pg; start_redis; start_s3; start_airflow
    echo "opinion cluster up: API http://127.0.0.1:$API_PORT, CeleryExecutor, Postgres :$PG_PORT," \
      "Redis :$REDIS_PORT, lake $OPINION_LAKE, workers w1 (default,opinion_writer) w2 (default);" \
      "DAGs start paused. State and logs: $CL"
    ;;
  stop) cluster_env; mkdir -p "$CL/run"; stop_all; echo "opinion cluster stopped" ;;
  add-worker) cluster_env; mkdir -p "$CL/logs" "$CL/run"; add_worker "${2:?usage: add-worker NAME}" ;;
  status)
    cluster_env; mkdir -p "$CL/run"
    for name in $(cd "$CL/run" && ls -- *.pid 2>/dev/null | sed 's/\.pid$//'); do
      if running "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
    done
    ;;
  *) echo "usage: scripts/airflow-cluster.sh start|stop|status|add-worker NAME|run CMD..." >&2; exit 2 ;;
esac
