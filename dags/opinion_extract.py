"""opinion_extract: clean + ABSA every raw partition that is new, changed or made by another
model version, in chunks balanced by rows (one mapped task per chunk, the models load once
per task, one log line per partition).

Scheduled by the asset `opinion://lake/raw` (i.e. after each collect that changed the lake).
`extracted` emits `opinion://lake/mentions`, which schedules `opinion_load`, whenever the lake
holds mentions partitions the published warehouse has not loaded, whatever this attempt did:
a retry whose first attempt extracted everything but could not report success still wakes
the load. Each partition is extracted under a write lease, so a retry never races an orphan of
a killed attempt. Trigger it by hand after changing `OPINION_MODEL` to backfill a new model
version over the whole history.
"""

from __future__ import annotations

from datetime import timedelta

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
    @task(execution_timeout=timedelta(minutes=10))
    def plan() -> list[list[str]]:
        params = get_current_context()["params"]
        pending = orch.run_task(orch.pending)
        return orch.chunk(pending, params["max_chunks"], params["min_per_chunk"])

    @task(
        max_active_tis_per_dag=orch.EXTRACT_SLOTS,
        map_index_template="{{ chunk_label }}",
        execution_timeout=timedelta(hours=6),
    )
    def extract_chunk(names: list[str]):
        ctx = get_current_context()
        ctx["chunk_label"] = orch.chunk_label(names)  # type: ignore[typeddict-unknown-key]
        return orch.run_task(orch.extract, names)

    @task(
        trigger_rule="none_failed",
        outlets=[Asset(orch.MENTIONS_ASSET)],
        execution_timeout=timedelta(minutes=15),
    )
    def extracted(reports: list[dict]):
        """Emit the mentions asset when mentions wait for the load (else skipped)."""
        return orch.run_task(orch.emit_mentions, reports)

    extracted(extract_chunk.expand(names=plan()))


opinion_extract()
