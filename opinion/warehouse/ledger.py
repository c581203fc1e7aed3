"""The loader's bookkeeping in the writer warehouse, shared by every step of one load.

* `LoadReport`: what one `load_lake` call did; each step adds its counts;
* the `runs` ledger (`record_run`, `fail`): one row per lake file a step loaded, removed or
  failed on, and the `loaded_partitions` fingerprints (`mark_loaded`) that let the next load
  skip the files that did not change;
* the writer's `load_state.generation` (`bump_generation` with every write): the published
  snapshot records the generation it holds, so an unchanged writer is not published again.

The merge (merge.py), the dup_of refresh (dup_of.py) and the orchestration (load.py) record
through this module, so none of them imports another for it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from opinion.warehouse.quality import CheckResult

log = logging.getLogger("opinion.warehouse.load")  # the load's messages, as before the split

STAGE = "load"


def bump_generation(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the writer as changed (the published snapshot records the generation it holds)."""
    con.execute(
        "INSERT INTO load_state VALUES ('generation', ?, now()) ON CONFLICT (key) "
        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [uuid.uuid4().hex],
    )


def generation(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT value FROM load_state WHERE key = 'generation'").fetchone()
    return None if row is None else row[0]


@dataclass
class LoadReport:
    """What one `load_lake` call did."""

    partitions_loaded: list[str] = field(default_factory=list)
    partitions_skipped: int = 0
    partitions_failed: dict[str, str] = field(default_factory=dict)
    rejects_files_loaded: list[str] = field(default_factory=list)
    rejects_files_removed: list[str] = field(default_factory=list)
    posts_loaded: int = 0
    mentions_loaded: int = 0
    rejects_loaded: int = 0
    rows_duplicate: int = 0
    dup_of_changed: int = 0
    checks: list[CheckResult] = field(default_factory=list)
    published: Path | None = None
    publish_mode: str = ""  # how the snapshot was written: delta (changed rows) or copy
    aggregates: str = "none"  # what aggregates.refresh did: none, groups or rebuild
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    @property
    def changed(self) -> bool:
        return bool(
            self.partitions_loaded or self.rejects_files_loaded or self.rejects_files_removed
        )


def record_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    lake_path: str,
    started: float,
    status: str,
    counts: tuple[int, int, int, int] = (0, 0, 0, 0),
    message: str | None = None,
) -> None:
    con.execute(
        """
        INSERT INTO runs (run_id, stage, "partition", started_at, finished_at, status,
                          rows_in, rows_loaded, rows_rejected, rows_duplicate, message)
        VALUES (?, ?, ?, to_timestamp(?), now(), ?, ?, ?, ?, ?, ?)
        """,
        [run_id, STAGE, lake_path, started, status, *counts, message],
    )


def mark_loaded(
    con: duckdb.DuckDBPyConnection, lake_path: str, kind: str, fingerprint: str, run_id: str
) -> None:
    con.execute(
        """
        INSERT INTO loaded_partitions (lake_path, kind, fingerprint, run_id, loaded_at)
        VALUES (?, ?, ?, ?, now())
        ON CONFLICT (lake_path) DO UPDATE SET kind = excluded.kind,
            fingerprint = excluded.fingerprint, run_id = excluded.run_id,
            loaded_at = excluded.loaded_at
        """,
        [lake_path, kind, fingerprint, run_id],
    )


def count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def fail(con: duckdb.DuckDBPyConnection, rel: str, exc: BaseException, report: LoadReport):
    message = f"{type(exc).__name__}: {exc}"
    log.error("loading %s failed: %s", rel, message)
    report.partitions_failed[rel] = message
    record_run(con, uuid.uuid4().hex, rel, time.time(), "failed", message=message[:2000])
    bump_generation(con)
