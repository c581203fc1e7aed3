"""What the Airflow DAGs call: thin, JSON-friendly wrappers over the wings.

Built only from the wings' public functions (`opinion.collect.jobs.run_job`,
`opinion.extract.stage.pending_partitions` / `extract_partitions`,
`opinion.warehouse.load.run_load`), so the DAG files in `dags/` hold no business logic.
Light at import time: the wings (pyarrow), the models and DuckDB are
imported inside the functions, when a task runs, never when the scheduler parses a DAG file.
Nothing here imports Airflow at module level either; `run_task` and `task_defaults` import
the few Airflow names they need lazily.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from opinion.config import Settings
from opinion.health import failure_summary, first_line

log = logging.getLogger(__name__)

#: Airflow assets (data-aware scheduling): collect → RAW_ASSET → extract → MENTIONS_ASSET → load.
RAW_ASSET = "opinion://lake/raw"
MENTIONS_ASSET = "opinion://lake/mentions"
#: Airflow pool serialising the single DuckDB writer (created with 1 slot by `make airflow`).
DUCKDB_POOL = "opinion_duckdb"
#: `opinion_load`'s deadline: a run not done this many hours after it was queued alerts
#: (`OPINION_LOAD_DEADLINE_H`; e.g. the writer worker is down and the load sits queued).
LOAD_DEADLINE_H = float(os.environ.get("OPINION_LOAD_DEADLINE_H", "4"))
#: The missed-deadline callback, by import path (runs in the executor, see opinion.notify).
DEADLINE_CALLBACK = "opinion.notify.deadline_missed"
#: Default of `opinion_load`'s param `max_load_lag_hours` (opinion.health.check_load_lag).
MAX_LOAD_LAG_H = float(os.environ.get("OPINION_MAX_LOAD_LAG_H", "12"))
#: Celery queue of the load task: exactly one worker listens to it, the one holding the
#: warehouse file (LocalExecutor ignores queues).
WRITER_QUEUE = "opinion_writer"


def settings() -> Settings:
    """Settings from the task's environment (`OPINION_*`)."""
    return Settings.from_env()


#: Airflow connection holding the object-storage endpoint and keys of a remote lake
#: (conn_type aws: login = access key, password = secret, extra endpoint_url / region_name).
LAKE_CONN_ID = os.environ.get("OPINION_LAKE_CONN_ID", "opinion_lake")
#: Airflow Variable holding the author-hash salt when `OPINION_AUTHOR_SALT` is not set.
SALT_VARIABLE = "opinion_author_salt"


def apply_airflow_secrets() -> None:
    """Inside a task: fill what the environment lacks from Airflow's secrets — the author salt
    from the Variable `opinion_author_salt`, the lake's S3 endpoint and keys from the
    connection `opinion_lake` — so workers need no secrets in their own environment."""
    from opinion.lake import storage

    if not os.environ.get("OPINION_AUTHOR_SALT"):
        try:
            from airflow.sdk import Variable

            salt = Variable.get(SALT_VARIABLE, default=None)
        except Exception:  # noqa: BLE001 - no Variable backend here: the env rules
            salt = None
        if salt:
            os.environ["OPINION_AUTHOR_SALT"] = salt
    if not storage.is_remote(os.environ.get("OPINION_LAKE", "")):
        return
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return
    try:
        from airflow.sdk import Connection

        conn = Connection.get(LAKE_CONN_ID)
    except Exception:  # noqa: BLE001 - no such connection: credentials from the default chain
        return
    extra = conn.extra_dejson or {}
    if conn.login:
        os.environ["AWS_ACCESS_KEY_ID"] = conn.login
        os.environ["AWS_SECRET_ACCESS_KEY"] = conn.password or ""
    if extra.get("endpoint_url") and not os.environ.get("OPINION_S3_ENDPOINT_URL"):
        os.environ["OPINION_S3_ENDPOINT_URL"] = extra["endpoint_url"]
    if extra.get("region_name") and not os.environ.get("AWS_DEFAULT_REGION"):
        os.environ["AWS_DEFAULT_REGION"] = extra["region_name"]


def worker_hostname() -> str:
    """Airflow `[core] hostname_callable` for several workers on one machine: the worker's
    `OPINION_WORKER_NAME` (recorded on each task instance), else the host name."""
    import socket

    return os.environ.get("OPINION_WORKER_NAME") or socket.getfqdn()


# ---------------------------------------------------------------- collect


def list_jobs() -> list[str]:
    """Labels of the enabled entries of `opinion.yaml`, each validated on its own: an invalid
    job is listed too (by name, or `jobs[i]`), so its own mapped task fails at once while the
    healthy jobs run (`opinion.sources.config.load_entries`)."""
    from opinion.sources.config import load_entries

    return [entry.label for entry in load_entries(settings=settings()) if entry.enabled]


def job_names(settings: Settings) -> list[str]:
    """Names of the enabled collect jobs in the configuration (`opinion.yaml`)."""
    from opinion.sources.config import configured_jobs

    return [job.name for job in configured_jobs(settings)]


def collect_job(settings: Settings, name: str) -> list[dict]:
    """Run one configured collect job; returns one report per source of the job."""
    from opinion.collect.jobs import run_job

    return run_job(settings, name)


def collect(name: str, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Collect one job. `since`/`until` (the Airflow data interval) bound jobs that support a
    time window (backfill a day = collect that day); the others continue from their cursor.

    Only this job is validated (a bad one raises `ConfigError`, terminal), a missing input file
    is terminal, and a batch with too many rejects fails loudly (`CollectQualityError`). The
    report says whether anything `changed` in the lake (the DAG emits its asset only then)."""
    from opinion.sources.config import get_job

    s = settings()
    job = get_job(name, s)
    if (since or until) and _supports_window(job):
        from opinion.collect.jobs import run_job

        log.info("job %s: collecting the window %s .. %s", name, since, until)
        report = _job_report(name, run_job(s, job, since=since, until=until))
    else:
        if since or until:
            log.info("job %s: collecting from its cursor (%s has no window)", name, job.source)
        report = _job_report(name, collect_job(s, name))
    report["changed"] = bool(report.get("partitions_written") or report.get("retracted"))
    if report.get("pages") and not report.get("read"):
        # F6: an empty (or header-only) file is not an error, but an operator should see it
        log.warning("job %s: the input held 0 records (an empty file?): nothing collected", name)
        report["warnings"] = ["empty input"]
    log.info(
        "job %s: read %s, posts %s, rejected %s, partitions written %s, unchanged %s%s",
        name, report.get("read", 0), report.get("posts", 0), report.get("rejected", 0),
        report.get("partitions_written", 0), report.get("partitions_unchanged", 0),
        f", retracted {report['retracted']}" if report.get("retracted") else "",
    )  # fmt: skip
    return report


def _job_report(name: str, result: Any) -> dict:
    """One dict per job: `run_job` gives one report per source (query); sum them."""
    if isinstance(result, list):
        reports = _jsonable(result)
        total = sum_reports(reports)
        total.pop("tasks", None)
        return {"job": name, **total, "sources": reports}
    return {"job": name, **_jsonable(result)}


def _supports_window(job: Any) -> bool:
    """Whether a configured job can fetch a since/until window (`opinion.sources.registry.WINDOWED`:
    Bluesky, Hacker News); the others continue from their cursor, and a file has no window
    (its cursor is its fingerprint)."""
    from opinion.sources.registry import WINDOWED

    return getattr(job, "source", "files") in WINDOWED


def emit_if_changed(reports: Sequence[dict | None], *keys: str) -> dict:
    """The run's summary; raises Airflow's skip (so the task emits no asset event, and the
    next DAG does not run) when no report has any of `keys` > 0: a no-op collect or extract
    causes no downstream work and no re-publish."""
    total = sum_reports(list(reports))
    if not any(total.get(key) for key in keys):
        from airflow.sdk.exceptions import AirflowSkipException

        what = " + ".join(keys)
        log.info("nothing changed (%s = 0): no asset event, downstream does not run", what)
        raise AirflowSkipException(f"nothing changed ({what} = 0)")
    return total


# ---------------------------------------------------------------- extract


#: Extract tasks that may run at once (`max_active_tis_per_dag` of `extract_chunk`): each
#: gets `cpu_count // EXTRACT_SLOTS` torch threads unless `OPINION_THREADS` is set.
EXTRACT_SLOTS = 2


def pending() -> list[list]:
    """Raw partitions that extract must (re)process for the current model, as
    `[["source/day", rows], ...]` (rows from the partition's metadata, to balance chunks)."""
    from opinion import lake
    from opinion.extract.stage import pending_partitions

    s = settings()
    out = []
    for name in pending_partitions(s):
        source, day = name.split("/", 1)
        posts = s.lake.partition_path("raw", source, day) / "posts.parquet"
        rows = int(s.lake.read_metadata(posts).get(lake.META_ROW_COUNT, 0) or 0)
        out.append([name, rows])
    return out


def chunk(
    items: Sequence[str | Sequence], max_chunks: int = 2, min_per_chunk: int = 4
) -> list[list[str]]:
    """Split partitions into at most `max_chunks` chunks of at least `min_per_chunk` each
    (except when fewer exist), balanced by rows: `items` are names or `[name, rows]`, each goes
    to the lightest chunk, biggest first. Each chunk is sorted; no input gives no chunks."""
    weighted = [(it, 1) if isinstance(it, str) else (str(it[0]), int(it[1])) for it in items]
    if not weighted:
        return []
    n = max(1, min(max_chunks, math.ceil(len(weighted) / max(1, min_per_chunk))))
    chunks: list[list[str]] = [[] for _ in range(n)]
    loads = [0] * n
    for name, rows in sorted(weighted, key=lambda x: (-x[1], x[0])):
        i = loads.index(min(loads))
        chunks[i].append(name)
        loads[i] += max(rows, 1)
    return [sorted(c) for c in chunks if c]


def chunk_label(names: Sequence[str]) -> str:
    """A readable name for a chunk (the mapped task's map index in the UI)."""
    names = sorted(names)
    if not names:
        return "empty"
    if len(names) == 1:
        return names[0]
    return f"{names[0]} .. {names[-1]} ({len(names)} partitions)"


def task_threads(slots: int = EXTRACT_SLOTS) -> int:
    """Torch threads for one extract task: the cores shared by the tasks that may run at once
    (`OPINION_THREADS` wins). Exported before the models load, so each task takes its share."""
    value = os.environ.get("OPINION_THREADS")
    if value and value.strip() not in ("", "0"):
        return int(value)
    threads = max(1, (os.cpu_count() or 1) // max(1, slots))
    os.environ["OPINION_THREADS"] = str(threads)
    return threads


def extract(names: Sequence[str]) -> dict:
    """Extract the given raw partitions with one model load. A retried task re-checks what is
    still pending, so partitions a killed attempt finished are not extracted again; one log
    line per partition says how far the task is."""
    import time

    from opinion.extract.stage import extract_partitions, load_engine, pending_partitions
    from opinion.health import extract_lease

    s = settings()
    still = set(pending_partitions(s))
    todo = [n for n in names if n in still]
    if len(todo) < len(names):
        log.info(
            "%d of %d partitions already extracted, skipped", len(names) - len(todo), len(names)
        )
    total: dict[str, Any] = {"partitions": 0, "posts": 0, "english": 0, "mentions": 0, "errors": 0}
    if not todo:
        return total
    threads = task_threads()
    started = time.time()
    engine = load_engine(s)
    log.info("models loaded in %.1fs (%d torch threads)", time.time() - started, threads)
    total["model_version"] = engine.version
    for i, name in enumerate(todo, 1):
        t0 = time.time()
        with extract_lease(s, name) as waited:
            if waited and name not in set(pending_partitions(s)):
                log.info("extract %d/%d %s: done by the process we waited for", i, len(todo), name)
                continue
            report = extract_partitions(s, [name], engine=engine)
        for key in ("partitions", "posts", "english", "mentions", "errors"):
            total[key] += int(report.get(key, 0) or 0)
        took = time.time() - t0
        log.info(
            "extract %d/%d %s: %d posts, %d mentions in %.1fs (%.0f posts/s)",
            i, len(todo), name, report.get("posts", 0), report.get("mentions", 0), took,
            report.get("posts", 0) / took if took > 0 else 0.0,
        )  # fmt: skip
    total["seconds"] = round(time.time() - started, 1)
    return _jsonable(total)


def emit_mentions(reports: Sequence[dict | None]) -> dict:
    """`extracted`'s rule (opinion.health.emit_mentions): the mentions asset follows the lake
    and the published warehouse, not this attempt; raises Airflow's skip when nothing waits."""
    from opinion.health import emit_mentions as rule

    return rule(settings(), sum_reports(list(reports)))


def freshness(max_hours: float | None = None) -> dict:
    """`opinion_load`'s freshness check by load lag (opinion.health.check_load_lag): raises
    `StaleWarehouse` (terminal, so alerted at once) when mentions wait too long for the load."""
    from opinion.health import check_load_lag

    return check_load_lag(settings(), max_hours)


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


def deliver_alerts() -> str:
    """After a load: send the latest window's new alerts (opinion.yaml `notify:`)."""
    from opinion.insights.delivery import deliver_new

    return deliver_new(settings())


def load() -> dict:
    """Run the single-writer load; the summary of its `LoadReport`. Raises `QualityError`
    (nothing published) when a required check fails."""
    from opinion.warehouse.load import run_load as load_stage

    report = load_stage(settings())
    fields = getattr(report, "__dict__", report if isinstance(report, dict) else {})
    for check in fields.get("checks") or []:
        if not getattr(check, "passed", True):
            log.warning("quality check %s: %s", check.name, getattr(check, "detail", ""))
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
    """Errors that retrying cannot fix: an invalid job (`ConfigError`), a missing input file,
    a batch failing the collect data-quality guards (`CollectQualityError`), a source's
    `TerminalError` (bad credentials, gone endpoint), a failed warehouse gate
    (`QualityError`) and a warehouse lagging the lake (`StaleWarehouse`)."""
    from opinion.collect.partitions import CollectQualityError
    from opinion.health import StaleWarehouse
    from opinion.sources.config import ConfigError
    from opinion.sources.errors import TerminalError
    from opinion.warehouse.quality import QualityError

    terminal = (
        ConfigError, CollectQualityError, FileNotFoundError, TerminalError, QualityError,
        StaleWarehouse,
    )  # fmt: skip
    return isinstance(exc, terminal)


def is_transient(exc: BaseException) -> bool:
    """A source's `TransientError` (rate limit, timeout, 5xx): retried with backoff."""
    from opinion.sources.errors import TransientError

    return isinstance(exc, TransientError)


def run_task(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a stage inside an Airflow task: terminal errors become `AirflowFailException`
    (fail now, no retry, one-line message); anything else propagates and is retried."""
    try:
        apply_airflow_secrets()
        return fn(*args, **kwargs)
    except Exception as exc:
        if is_terminal(exc):
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"terminal, not retried: {first_line(exc)}") from exc
        if is_transient(exc):
            log.warning("transient error, will retry: %s", first_line(exc))
        raise


def on_failure(context: dict) -> None:
    """Log the one-line summary only (the DAGs use `opinion.notify.OpinionNotifier`, which
    logs it and sends it to the configured webhook / e-mail)."""
    log.error(failure_summary(context))


def collect_retry() -> dict:
    """`collect_one`'s short retry budget (F4): 2 retries, 30 s then 60 s, so a failing
    network source settles within about 2 minutes instead of holding its run for 15; the
    connectors already back off inside a try on 429/5xx. `OPINION_AIRFLOW_RETRY_DELAY_S`
    shortens the first delay."""
    delay = min(30.0, float(os.environ.get("OPINION_AIRFLOW_RETRY_DELAY_S", "30")))
    return {
        "retries": 2,
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=2),
    }


#: DAG params that override an `OPINION_*` guard for one run (F7): param name -> variable.
OVERRIDES = {
    "min_rows_ratio": "OPINION_MIN_ROWS_RATIO",
    "max_reject_ratio": "OPINION_MAX_REJECT_RATIO",
}


@contextlib.contextmanager
def param_overrides(params: dict | None) -> Iterator[dict[str, str]]:
    """Set the `OVERRIDES` a run's params give (null = keep the environment's) for the block
    only, and restore them after: trigger a run with `{"min_rows_ratio": 0}` instead of
    restarting every process with `OPINION_MIN_ROWS_RATIO=0`."""
    applied = {
        env: str(params[key])
        for key, env in OVERRIDES.items()
        if params and params.get(key) is not None
    }
    saved = {env: os.environ.get(env) for env in applied}
    for env, value in applied.items():
        log.warning("override for this run: %s=%s (DAG param)", env, value)
        os.environ[env] = value
    try:
        yield applied
    finally:
        for env, value in saved.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value


def load_deadline() -> Any:
    """`opinion_load`'s `DeadlineAlert`: a run not done `LOAD_DEADLINE_H` hours after it was
    queued calls `opinion.notify.deadline_missed` (by import path, in the executor). None when
    `OPINION_LOAD_DEADLINE_H` is 0: Airflow 3.3.2's `dag.test()` cannot finish a run of a DAG
    with a deadline (it looks the alerts up by id and gets the definitions), so the tests that
    run the DAGs with dag.test switch it off; the scheduler path is unaffected."""
    if LOAD_DEADLINE_H <= 0:
        return None
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=LOAD_DEADLINE_H),
        callback=SyncCallback(DEADLINE_CALLBACK, kwargs={"what": "opinion_load not done"}),
    )


def failure_callbacks() -> list:
    """The notifier (log + webhook + e-mail, `opinion.notify`), imported here so that this
    module stays free of Airflow at import time."""
    from opinion.notify import OpinionNotifier

    return [OpinionNotifier()]


def task_defaults(**overrides: Any) -> dict:
    """`default_args` shared by the opinion DAGs: 3 retries, 1 min doubling up to 30 min
    (`OPINION_AIRFLOW_RETRY_DELAY_S` shortens the first delay, e.g. in tests), and an
    `execution_timeout` of 1 h (tasks that need longer set their own)."""
    delay = float(os.environ.get("OPINION_AIRFLOW_RETRY_DELAY_S", "60"))
    args: dict[str, Any] = {
        "owner": "opinion",
        "retries": 3,
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=1),
        "on_failure_callback": failure_callbacks(),
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
