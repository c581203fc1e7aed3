"""opinion_collect: run every configured collect job (one mapped task per job) into lake/raw.

Daily, no catchup. Each run passes its data interval as the since/until window to jobs that
support one (file jobs re-read their file; collecting twice is idempotent). Emits the asset
`opinion://lake/raw`, which schedules `opinion_extract`. Logic lives in opinion.orchestration.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
    @task
    def list_jobs() -> list[str]:
        return orch.run_task(orch.list_jobs)

    @task(max_active_tis_per_dag=2)
    def collect_one(name: str):
        ctx = get_current_context()
        since, until = ctx.get("data_interval_start"), ctx.get("data_interval_end")
        return orch.run_task(orch.collect, name, since, until)

    @task(trigger_rule="none_failed", outlets=[Asset(orch.RAW_ASSET)])
    def collected(reports: list[dict]):
        return orch.sum_reports(reports)

    collected(collect_one.expand(name=list_jobs()))


opinion_collect()
