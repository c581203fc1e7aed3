# Sourced by airflow-standalone.sh and airflow-cluster.sh: find and end every Airflow process
# of one AIRFLOW_HOME, including task processes that run in process groups of their own and
# so survive `kill -- -PGID` of the command that started them (they would go on writing the
# lake for minutes and race the retry of their own task after a restart).
#
#   opinion_airflow_pids HOME    pids whose environment has AIRFLOW_HOME=HOME exactly and whose
#                                program is airflow's (never this shell, its parents, or a
#                                shell that merely sourced airflow-env.sh)
#   opinion_stop_airflow HOME    TERM their process groups, wait up to 20 s, KILL what is left;
#                                prints how many process groups it ended

opinion_airflow_pids() {
  local home="$1" file pid cmd argv skip=" $$ $BASHPID $PPID "
  local p=$BASHPID  # this (sub)shell, then its ancestors
  while [ "$p" -gt 1 ] 2>/dev/null; do  # this shell's ancestors are never ours to stop
    skip+="$p "
    p="$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || echo 1)"
  done
  # one grep over every readable environment (one process, not one per pid)
  for file in $(grep -lzxF "AIRFLOW_HOME=$home" /proc/[0-9]*/environ 2>/dev/null); do
    pid="${file#/proc/}"; pid="${pid%/environ}"
    case "$skip" in *" $pid "*) continue ;; esac
    # the program (or the script it runs) must be airflow's: `airflow …`, `python …/bin/airflow
    # …`, a task process titled `airflow worker -- …`, or our airflow-*.sh scripts; never a
    # shell or an editor that merely has this AIRFLOW_HOME
    argv=()
    { mapfile -d '' -t argv < "/proc/$pid/cmdline"; } 2>/dev/null || continue
    cmd="${argv[1]:-}"
    case "${argv[0]##*/}" in airflow*) echo "$pid"; continue ;; esac
    case "${cmd##*/}" in airflow|airflow-*.sh) echo "$pid" ;; esac
  done
}

opinion_stop_airflow() {
  local home="$1" pgids pg own n=0
  own="$(ps -o pgid= -p $$ | tr -d ' ')"
  pgids="$(for pid in $(opinion_airflow_pids "$home"); do ps -o pgid= -p "$pid"; done \
    | tr -d ' ' | sort -u | grep -vx "$own" || true)"
  for pg in $pgids; do kill -TERM -- "-$pg" 2>/dev/null && n=$((n + 1)); done
  for _ in $(seq 20); do
    [ -z "$(opinion_airflow_pids "$home")" ] && break
    sleep 1
  done
  for pid in $(opinion_airflow_pids "$home"); do
    pg="$(ps -o pgid= -p "$pid" | tr -d ' ')"
    [ -n "$pg" ] && [ "$pg" != "$own" ] && kill -KILL -- "-$pg" 2>/dev/null
  done
  echo "opinion: ended $n Airflow process group(s) of $home (task processes included)"
}
