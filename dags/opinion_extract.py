"""opinion_extract: clean + ABSA every raw partition that is new, changed or made by another
model version, in chunks (one mapped task per chunk, the models load once per task).

Scheduled by the asset `opinion://lake/raw` (i.e. after each collect); emits
`opinion://lake/mentions`, which schedules `opinion_load`. Trigger it by hand after changing
`OPINION_MODEL` to backfill a new model version over the whole history.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task

from opinion import orchestration as orch


@dag(
    dag_id="opinion_extract",
    schedule=[Asset(orch.RAW_ASSET)],
    catchup=False,
    max_active_runs=1,
    default_args=orch.task_defaults(),
    tags=["opinion", "extract"],
    params={
        "max_chunks": Param(2, type="integer", minimum=1, description="parallel extract tasks"),
        "min_per_chunk": Param(4, type="integer", minimum=1, description="partitions per task"),
    },
    doc_md=__doc__,
)
def opinion_extract():
    @task
    def plan() -> list[list[str]]:
        params = get_current_context()["params"]
        names = orch.run_task(orch.pending)
        return orch.chunk(names, params["max_chunks"], params["min_per_chunk"])

    @task(max_active_tis_per_dag=2)
    def extract_chunk(names: list[str]):
        return orch.run_task(orch.extract, names)

    @task(trigger_rule="none_failed", outlets=[Asset(orch.MENTIONS_ASSET)])
    def extracted(reports: list[dict]):
        return orch.sum_reports(reports)

    extracted(extract_chunk.expand(names=plan()))


opinion_extract()
