"""opinion_collect: run every configured collect job (one mapped task per job) into lake/raw.

Daily, no catchup. Each run passes its data interval as the since/until window to jobs that
support one (backfilling a day collects that day; file jobs re-read a changed file). Each job
is validated on its own: a bad job fails its own task at once (no retry) and the healthy jobs
run. `collected` emits the asset `opinion://lake/raw` (which schedules `opinion_extract`) only
when some job changed the lake; `all_jobs_ok` turns the run red when any job failed. Logic
lives in opinion.orchestration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, get_current_context, task

from opinion import orchestration as orch


@dag(
    dag_id="opinion_collect",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="UTC"),
    start_date=datetime(2015, 2, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(),
    tags=["opinion", "collect"],
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
    )
    def collect_one(name: str):
        ctx = get_current_context()
        ctx["job_name"] = name  # type: ignore[typeddict-unknown-key]
        since, until = ctx.get("data_interval_start"), ctx.get("data_interval_end")
        return orch.run_task(orch.collect, name, since, until)

    @task(trigger_rule="all_done", outlets=[Asset(orch.RAW_ASSET)])
    def collected(reports: list[dict]):
        """Emit the raw asset only when a job wrote or retracted something (else skipped)."""
        return orch.emit_if_changed(reports, "partitions_written", "retracted")

    @task(execution_timeout=timedelta(minutes=5))
    def all_jobs_ok(reports: list[dict]):
        """Runs only when every job succeeded: a failed job leaves it upstream_failed, so the
        run is red even though the healthy jobs' data went on."""
        return orch.sum_reports(reports)

    reports = collect_one.expand(name=list_jobs())
    collected(reports)
    all_jobs_ok(reports)


opinion_collect()
