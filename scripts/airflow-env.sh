# Environment for operating opinion's Airflow from this checkout. Source it, don't run it:
#
#   source scripts/airflow-env.sh
#   airflow dags list
#
# Exports AIRFLOW_HOME (<repo>/airflow_home, git-ignored), AIRFLOW_CONFIG (<repo>/airflow.cfg),
# puts the repo's .venv/bin first on PATH, and exports the three secrets every Airflow component
# must share (fernet key, JWT secret, API secret key). The secrets are generated once into
# airflow_home/secrets.env (mode 600, git-ignored) and never written to airflow.cfg; values
# already present in the environment win (e.g. from a real secrets manager).
# Works in bash and zsh. Override the venv with OPINION_VENV=/path/to/venv.

_opinion_src="${BASH_SOURCE[0]:-${(%):-%x}}"
OPINION_REPO="$(cd "$(dirname "$_opinion_src")/.." && pwd)"
unset _opinion_src
export OPINION_REPO
export AIRFLOW_HOME="${OPINION_AIRFLOW_HOME:-$OPINION_REPO/airflow_home}"
export AIRFLOW_CONFIG="$OPINION_REPO/airflow.cfg"
_opinion_venv="${OPINION_VENV:-$OPINION_REPO/.venv}"
case ":$PATH:" in
  *":$_opinion_venv/bin:"*) ;;
  *) export PATH="$_opinion_venv/bin:$PATH" ;;
esac

mkdir -p "$AIRFLOW_HOME"
if [ ! -s "$AIRFLOW_HOME/secrets.env" ]; then
  (
    umask 077
    "$_opinion_venv/bin/python" - > "$AIRFLOW_HOME/secrets.env.tmp" <<'PY'
import base64, os, secrets
print("AIRFLOW__CORE__FERNET_KEY=" + base64.urlsafe_b64encode(os.urandom(32)).decode())
print("AIRFLOW__API_AUTH__JWT_SECRET=" + secrets.token_urlsafe(48))
print("AIRFLOW__API__SECRET_KEY=" + secrets.token_urlsafe(32))
PY
  ) && mv "$AIRFLOW_HOME/secrets.env.tmp" "$AIRFLOW_HOME/secrets.env"
fi
while IFS='=' read -r _opinion_key _opinion_value; do
  case "$_opinion_key" in
    AIRFLOW__*)
      if [ -z "$(printenv "$_opinion_key")" ]; then
        export "$_opinion_key=$_opinion_value"
      fi
      ;;
  esac
done < "$AIRFLOW_HOME/secrets.env"
unset _opinion_key _opinion_value _opinion_venv
# Tokenizers + forked LocalExecutor workers: avoid the fork warning and oversubscription.
export TOKENIZERS_PARALLELISM="${TOKENIZERS_PARALLELISM:-false}"
# Progress bars make noise in task logs.
export TQDM_DISABLE="${TQDM_DISABLE:-1}"
