"""What the Airflow DAGs call: thin, JSON-friendly wrappers over `opinion.pipeline`.

Built only from the pipeline's public functions (`job_names`, `collect_job`,
`pending_partitions`, `extract_partitions`, `load`), so the DAG files in `dags/` hold no
business logic. Light at import time: `opinion.pipeline` (pyarrow), the models and DuckDB are
imported inside the functions, when a task runs, never when the scheduler parses a DAG file.
Nothing here imports Airflow at module level either; `run_task` and `task_defaults` import
the few Airflow names they need lazily.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from opinion.config import Settings

log = logging.getLogger(__name__)

#: Airflow assets (data-aware scheduling): collect → RAW_ASSET → extract → MENTIONS_ASSET → load.
RAW_ASSET = "opinion://lake/raw"
MENTIONS_ASSET = "opinion://lake/mentions"
#: Airflow pool serialising the single DuckDB writer (created with 1 slot by `make airflow`).
DUCKDB_POOL = "opinion_duckdb"


def settings() -> Settings:
    """Settings from the task's environment (`OPINION_*`)."""
    return Settings.from_env()


# ---------------------------------------------------------------- collect


def list_jobs() -> list[str]:
    """Enabled collect jobs (`opinion.pipeline.job_names`)."""
    from opinion.pipeline import job_names

    return list(job_names(settings()))


def _window_aware_runner() -> Callable[..., dict] | None:
    """`run_job(settings, job, since=, until=)` when the sources layer offers one."""
    try:
        from opinion.sources.run import run_job
    except ImportError:
        return None
    params = inspect.signature(run_job).parameters
    return run_job if {"since", "until"} <= set(params) else None


def collect(name: str, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Collect one job. `since`/`until` (the Airflow data interval) bound jobs that support a
    time window; file jobs read their whole file (re-collecting is idempotent)."""
    from opinion.pipeline import collect_job

    s = settings()
    runner = _window_aware_runner() if (since or until) else None
    if runner is not None:
        from opinion.sources.config import configured_jobs

        jobs = {job.name: job for job in configured_jobs(s)}
        if name in jobs and _supports_window(jobs[name]):
            return _job_report(name, runner(s, jobs[name], since=since, until=until))
    if since or until:
        log.info(
            "job %s: collecting from its cursor (window %s .. %s not used)", name, since, until
        )
    return _job_report(name, collect_job(s, name))


def _job_report(name: str, result: Any) -> dict:
    """One dict per job: `run_job` gives one report per source (query); sum them."""
    if isinstance(result, list):
        reports = _jsonable(result)
        total = sum_reports(reports)
        total.pop("tasks", None)
        return {"job": name, **total, "sources": reports}
    return {"job": name, **_jsonable(result)}


def _supports_window(job: Any) -> bool:
    """Whether a configured job takes a since/until window (API sources; not files)."""
    flag = getattr(job, "supports_window", None)
    if flag is not None:
        return bool(flag() if callable(flag) else flag)
    return getattr(job, "kind", getattr(job, "type", "files")) != "files"


# ---------------------------------------------------------------- extract


def pending() -> list[str]:
    """Raw partitions (`source/day`) that extract must (re)process for the current model."""
    from opinion.pipeline import pending_partitions

    return list(pending_partitions(settings()))


def chunk(names: Sequence[str], max_chunks: int = 2, min_per_chunk: int = 4) -> list[list[str]]:
    """Split partitions into at most `max_chunks` chunks of at least `min_per_chunk` each
    (except when fewer exist), so each mapped extract task loads the models once and then
    works through several partitions. Order is kept; an empty input gives no chunks."""
    names = list(names)
    if not names:
        return []
    size = max(min_per_chunk, math.ceil(len(names) / max(1, max_chunks)), 1)
    return [names[i : i + size] for i in range(0, len(names), size)]


def extract(names: Sequence[str]) -> dict:
    """Extract the given raw partitions with one model load (`extract_partitions`)."""
    from opinion.pipeline import extract_partitions

    return _jsonable(extract_partitions(settings(), list(names)))


def sum_reports(reports: Sequence[dict | None]) -> dict:
    """Add up the numeric fields of several stage reports (for the run's summary)."""
    total: dict[str, Any] = {"tasks": 0}
    for report in reports:
        if not report:
            continue
        total["tasks"] += 1
        for key, value in report.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                total[key] = round(total.get(key, 0) + value, 3)
            elif isinstance(value, str):
                total.setdefault(key, value)
    return total


# ---------------------------------------------------------------- load


def load() -> dict:
    """Run the single-writer load; the summary of its `LoadReport`. Raises `QualityError`
    (nothing published) when a required check fails."""
    from opinion.pipeline import load as load_stage

    report = load_stage(settings())
    fields = getattr(report, "__dict__", report if isinstance(report, dict) else {})
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, list) and key != "checks":
            out[key] = len(value)
        elif key == "checks":
            out["checks_failed"] = [
                c.name for c in value if not getattr(c, "passed", True) and hasattr(c, "name")
            ]
        else:
            out[key] = value
    return _jsonable(out)


# ---------------------------------------------------------------- errors and task policy


def is_terminal(exc: BaseException) -> bool:
    """Errors that retrying cannot fix: a source's `TerminalError` (bad credentials, gone
    endpoint, invalid config) and a failed data-quality gate (`QualityError`)."""
    terminal: list[type[BaseException]] = []
    try:
        from opinion.sources.base import TerminalError

        terminal.append(TerminalError)
    except ImportError:
        pass
    try:
        from opinion.warehouse.quality import QualityError

        terminal.append(QualityError)
    except ImportError:
        pass
    return isinstance(exc, tuple(terminal)) if terminal else False


def is_transient(exc: BaseException) -> bool:
    """A source's `TransientError` (rate limit, timeout, 5xx): retried with backoff."""
    try:
        from opinion.sources.base import TransientError
    except ImportError:
        return False
    return isinstance(exc, TransientError)


def first_line(exc: BaseException | str | None) -> str:
    if exc is None:
        return "-"
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    name = exc.__class__.__name__ if isinstance(exc, BaseException) else ""
    return f"{name}: {line}" if name and line else (name or line or "-")


def run_task(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a stage inside an Airflow task: terminal errors become `AirflowFailException`
    (fail now, no retry, one-line message); anything else propagates and is retried."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if is_terminal(exc):
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"terminal, not retried: {first_line(exc)}") from exc
        if is_transient(exc):
            log.warning("transient error, will retry: %s", first_line(exc))
        raise


def failure_summary(context: dict) -> str:
    """One line for a failed task: dag, task (map index), try, first line of the exception."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        task_id = f"{task_id}[{map_index}]"
    try_number = getattr(ti, "try_number", "?")
    run_id = getattr(ti, "run_id", None) or context.get("run_id", "?")
    return (
        f"opinion task failed: dag={dag_id} task={task_id} run={run_id} try={try_number} "
        f"error={first_line(context.get('exception'))}"
    )


def on_failure(context: dict) -> None:
    """Airflow `on_failure_callback`: log the one-line summary (hook alerting here)."""
    log.error(failure_summary(context))


def task_defaults(**overrides: Any) -> dict:
    """`default_args` shared by the opinion DAGs: 3 retries, 1 min doubling up to 30 min
    (`OPINION_AIRFLOW_RETRY_DELAY_S` shortens the first delay, e.g. in tests)."""
    delay = float(os.environ.get("OPINION_AIRFLOW_RETRY_DELAY_S", "60"))
    args: dict[str, Any] = {
        "owner": "opinion",
        "retries": 3,
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": on_failure,
    }
    args.update(overrides)
    return args


def _jsonable(value: Any) -> Any:
    """Reports as plain JSON types (XCom): paths and datetimes become strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return _jsonable(vars(value))
    return str(value)
