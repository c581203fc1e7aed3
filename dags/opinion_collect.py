"""opinion_collect: run every configured collect job (one mapped task per job) into lake/raw.

Daily, no catchup. Each run passes its data interval as the since/until window to jobs that
support one (backfilling a day collects that day; file jobs re-read a changed file). Each job
is validated on its own: a bad job fails its own task at once (no retry) and the healthy jobs
run. Each `collect_one` emits the asset `opinion://lake/raw` (which schedules
`opinion_extract`) as soon as ITS job changed the lake, so a healthy job's data flows on while
another job still retries; a job that changed nothing is skipped (no event). Network jobs get
a short retry budget (2 retries, 30 s / 60 s). `all_jobs_ok` turns the run red when any job
failed, and every failed try is alerted at once (opinion.notify). Params override the collect
guards for one run (e.g. `{"min_rows_ratio": 0}` to accept a file that shrank on purpose).
Logic lives in opinion.orchestration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import (
    Asset,
    CronDataIntervalTimetable,
    Param,
    dag,
    get_current_context,
    task,
)

from opinion import orchestration as orch


@dag(
    dag_id="opinion_collect",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="UTC"),
    start_date=datetime(2015, 2, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(),
    tags=["opinion", "collect"],
    params={
        "min_rows_ratio": Param(
            None,
            type=["null", "number"],
            minimum=0,
            description="this run only: OPINION_MIN_ROWS_RATIO (0 accepts a shrunken file)",
        ),
        "max_reject_ratio": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            description="this run only: OPINION_MAX_REJECT_RATIO",
        ),
    },  # fmt: skip
    doc_md=__doc__,
)
def opinion_collect():
    @task(execution_timeout=timedelta(minutes=5))
    def list_jobs() -> list[str]:
        return orch.run_task(orch.list_jobs)

    @task(
        max_active_tis_per_dag=2,
        map_index_template="{{ job_name }}",
        execution_timeout=timedelta(hours=2),
        outlets=[Asset(orch.RAW_ASSET)],
        **orch.collect_retry(),
    )
    def collect_one(name: str):
        """Collect one job; emits the raw asset when it changed the lake, else skipped."""
        ctx = get_current_context()
        ctx["job_name"] = name  # type: ignore[typeddict-unknown-key]
        since, until = ctx.get("data_interval_start"), ctx.get("data_interval_end")
        with orch.param_overrides(ctx.get("params")):
            report = orch.run_task(orch.collect, name, since, until)
        return orch.emit_if_changed([report], "partitions_written", "retracted")

    @task(trigger_rule="none_failed", execution_timeout=timedelta(minutes=5))
    def all_jobs_ok(reports: list[dict]):
        """Runs only when no job failed (a skipped job changed nothing): a failed job leaves it
        upstream_failed, so the run is red even though the healthy jobs' data went on."""
        return orch.sum_reports(reports)

    all_jobs_ok(collect_one.expand(name=list_jobs()))


opinion_collect()
