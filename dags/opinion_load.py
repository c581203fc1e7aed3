"""opinion_load: the single DuckDB writer. Merges the lake into the warehouse, recomputes
duplicates, runs the data-quality gate and publishes the read-only snapshot.

Scheduled by the asset `opinion://lake/mentions` OR every 6 hours (a no-op load costs
seconds, so mentions that reached the lake without an asset event are loaded anyway). One
`load` task in the 1-slot pool `opinion_duckdb`, one run at a time, on the Celery queue
`opinion_writer` (the one worker that holds the warehouse file; LocalExecutor ignores queues).
A failed required quality check fails the task without retry and leaves the previous snapshot
published. Then `deliver_alerts` sends the new alerts of the published snapshot
(opinion.insights.delivery), and `freshness` fails (and alerts) when a mentions partition has
waited longer than `max_load_lag_hours` for the load: freshness by load time, not post age. A
run not done 4 hours after it was queued (e.g. the writer worker is down) misses its deadline,
which alerts.
"""

from __future__ import annotations

from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Param,
    dag,
    get_current_context,
    task,
)

from opinion import orchestration as orch


@dag(
    dag_id="opinion_load",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("30 */6 * * *", timezone="UTC"),
        assets=[Asset(orch.MENTIONS_ASSET)],
    ),
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(),
    tags=["opinion", "load"],
    params={
        "max_load_lag_hours": Param(
            orch.MAX_LOAD_LAG_H,
            type="number",
            minimum=0,
            description="freshness: longest a mentions partition may wait for the load",
        ),
    },  # fmt: skip
    deadline=orch.load_deadline(),
    doc_md=__doc__,
)
def opinion_load():
    @task(pool=orch.DUCKDB_POOL, pool_slots=1, queue=orch.WRITER_QUEUE)
    def load():
        return orch.run_task(orch.load)

    @task(retries=2, queue=orch.WRITER_QUEUE)
    def deliver_alerts():
        """The new alerts of this load, to the webhook / e-mail of opinion.yaml `notify:`."""
        return orch.run_task(orch.deliver_alerts)

    @task(trigger_rule="all_done", queue=orch.WRITER_QUEUE)
    def freshness():
        """Fails (alerting) when mentions have waited too long for the load."""
        hours = get_current_context()["params"]["max_load_lag_hours"]
        return orch.run_task(orch.freshness, hours)

    loaded = load()
    loaded >> deliver_alerts()
    loaded >> freshness()


opinion_load()
