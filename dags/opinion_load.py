"""opinion_load: the single DuckDB writer. Merges the lake into the warehouse, recomputes
duplicates, runs the data-quality gate and publishes the read-only snapshot.

Scheduled by the asset `opinion://lake/mentions`. One task in the 1-slot pool
`opinion_duckdb`, one run at a time, on the Celery queue `opinion_writer` (the one worker
that holds the warehouse file; LocalExecutor ignores queues). `deliver_alerts` then sends
the new alerts of the published snapshot (opinion.insights.delivery). A failed required quality
check fails the task without retry and leaves the previous snapshot published.
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from opinion import orchestration as orch


@dag(
    dag_id="opinion_load",
    schedule=[Asset(orch.MENTIONS_ASSET)],
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(),
    tags=["opinion", "load"],
    doc_md=__doc__,
)
def opinion_load():
    @task(pool=orch.DUCKDB_POOL, pool_slots=1, queue=orch.WRITER_QUEUE)
    def load():
        return orch.run_task(orch.load)

    @task(retries=2)
    def deliver_alerts():
        """The new alerts of this load, to the webhook / e-mail of opinion.yaml `notify:`."""
        return orch.run_task(orch.deliver_alerts)

    load() >> deliver_alerts()


opinion_load()
