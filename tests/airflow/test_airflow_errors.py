"""Error policy in a real Airflow run: a terminal error fails at once (no retry), a transient
one is retried; both failures log the one-line summary from the failure callback."""

from __future__ import annotations

import textwrap

from af_helpers import airflow_env, init_airflow_home, run_dag

ERRORS_DAG = textwrap.dedent(
    '''
    """Tiny DAG for the error-policy test (airflow dag)."""
    from datetime import UTC, datetime

    from airflow.sdk import dag, task

    from opinion import orchestration as orch


    def _terminal():
        try:
            from opinion.sources.errors import TerminalError
        except ImportError:  # sources layer not there yet: the quality gate is terminal too
            from opinion.warehouse.quality import CheckResult, QualityError

            raise QualityError([CheckResult("no_null_keys", False, "3 null post_id")]) from None
        raise TerminalError("401 Unauthorized: bad token")


    def _transient():
        try:
            from opinion.sources.errors import TransientError
        except ImportError:
            raise TimeoutError("read timed out") from None
        raise TransientError("429 Too Many Requests")


    @dag(
        dag_id="opinion_errors",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=UTC),
        default_args=orch.task_defaults(retries=2, retry_exponential_backoff=0),
        tags=["opinion"],
    )
    def opinion_errors():
        @task
        def terminal():
            orch.run_task(_terminal)

        @task
        def transient():
            orch.run_task(_transient)

        terminal()
        transient()


    opinion_errors()
    '''
)


def test_terminal_fails_fast_transient_retries(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "opinion_errors.py").write_text(ERRORS_DAG)
    env = airflow_env(tmp_path / "airflow_home", dags_folder=dags, OPINION_STATE=str(tmp_path))
    init_airflow_home(env)
    rc, summary, output = run_dag(env, "opinion_errors", dags_folder=dags, timeout=240)
    (tmp_path / "run.log").write_text(output)
    assert rc == 1 and summary and summary["state"] == "failed", output[-6000:]
    tis = {ti["task_id"]: ti for ti in summary["tis"]}
    assert tis["terminal"]["state"] == "failed"
    assert tis["terminal"]["try_number"] == 1, "a terminal error must not be retried"
    assert tis["transient"]["state"] == "failed"
    assert tis["transient"]["try_number"] == 3, "a transient error is retried (retries=2)"
    assert "terminal, not retried" in output
    summaries = [ln for ln in output.splitlines() if "opinion task failed:" in ln]
    assert any("task=terminal" in ln and "try=1" in ln for ln in summaries), output[-4000:]
    assert any("task=transient" in ln and "try=3" in ln for ln in summaries), output[-4000:]


def test_failure_summary_is_one_line():
    from types import SimpleNamespace

    from opinion.orchestration import failure_summary

    ti = SimpleNamespace(dag_id="d", task_id="t", map_index=2, try_number=3, run_id="r")
    line = failure_summary({"ti": ti, "exception": ValueError("first\nsecond")})
    assert line == "opinion task failed: dag=d task=t[2] run=r try=3 error=ValueError: first"
