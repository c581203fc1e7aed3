#!/usr/bin/env bash
# `make airflow`: migrate the metadata DB, create the DuckDB pool, start `airflow standalone`
# (scheduler, DAG processor, triggerer, API server + UI) in the foreground. Ctrl-C stops it.
#
# The opinion DAGs are created paused ([core] dags_are_paused_at_creation = True) and unpaused
# here once the API server answers its health check, on the first start only (a DAG you pause
# stays paused): no task starts before the execution API is up (no red first attempt).
# No secret is printed: the admin password is generated into a 0600 file before the start.
#
# Stopping: Ctrl-C, `kill -- -PGID` of `make airflow`, or `make airflow-stop` (this script's
# `stop`, from any shell). Each ends Airflow AND the task processes it started, which run in
# process groups of their own and would otherwise go on writing the lake (scripts/airflow-procs.sh),
# and says how many process groups it ended.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/airflow-env.sh
source scripts/airflow-env.sh
# shellcheck source=scripts/airflow-procs.sh
source scripts/airflow-procs.sh

if [ "${1:-}" = stop ]; then
  opinion_stop_airflow "$AIRFLOW_HOME"
  exit 0
fi

airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 \
  || { tail -n 30 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
airflow pools set opinion_duckdb 1 "single DuckDB writer (opinion_load)" > /dev/null

host="$(airflow config get-value api host 2>/dev/null || echo 127.0.0.1)"
port="$(airflow config get-value api port 2>/dev/null || echo 8080)"
# task workers reach the execution API on the API server's own address (also when the port
# is overridden with AIRFLOW__API__PORT)
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://$host:$port/execution/}"
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
if [ ! -s "$passwords" ]; then
  ( umask 077
    "${OPINION_VENV:-$OPINION_REPO/.venv}/bin/python" -c \
      'import json, secrets; print(json.dumps({"admin": secrets.token_urlsafe(16)}))' \
      > "$passwords.tmp" ) && mv "$passwords.tmp" "$passwords"
fi
chmod 600 "$passwords" "$AIRFLOW_HOME/secrets.env"
cat <<INFO
opinion Airflow
  UI / API      http://$host:$port   (health: http://$host:$port/api/v2/monitor/health)
  login         user "admin"; the password is in $passwords
                (mode 600; JSON {"admin": "<password>"}; delete the file for a new one)
  AIRFLOW_HOME  $AIRFLOW_HOME   (metadata DB airflow.db, logs/, secrets.env)
  DAGs          $OPINION_REPO/dags   (opinion_collect -> opinion_extract -> opinion_load)
  operate       source scripts/airflow-env.sh; airflow dags list
INFO

unpause_when_healthy() {
  local marker="$AIRFLOW_HOME/.opinion_dags_unpaused"
  [ -e "$marker" ] && return 0
  for _ in $(seq 300); do
    curl -sf "http://$host:$port/api/v2/monitor/health" > /dev/null 2>&1 && break
    sleep 1
  done
  # downstream first: an asset event only queues a run of a DAG that is unpaused then.
  # `airflow dags unpause` exits 0 for a DAG not parsed yet, so wait until it is listed.
  for dag in opinion_load opinion_extract opinion_collect; do
    for _ in $(seq 120); do
      if airflow dags list -o plain 2>/dev/null | grep -qw "$dag"; then
        airflow dags unpause "$dag" > /dev/null 2>&1 && break
      fi
      sleep 5
    done
  done
  touch "$marker"
  echo "opinion: API healthy, DAGs unpaused (first start)"
}
unpause_when_healthy &
unpauser=$!
stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM
  echo "opinion: stopping Airflow and its task processes"
  kill -TERM "$unpauser" 2>/dev/null || true
  kill -TERM "$standalone" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$standalone" 2>/dev/null || break; sleep 1; done
  opinion_stop_airflow "$AIRFLOW_HOME"
}
trap 'stop_all; exit 130' INT TERM
# standalone prints a generated password only when it creates the file; filter it anyway.
# In the background with `wait`, so a stop signal is handled at once, not after standalone.
airflow standalone > >(grep --line-buffered -v -i "password for user") 2>&1 &
standalone=$!
status=0
wait "$standalone" || status=$?
stop_all
exit "$status"
