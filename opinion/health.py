"""Whether the pipeline keeps up, told by the lake and the published warehouse (never by what
one task attempt happened to do): which mentions partitions the warehouse has not loaded, how
long the oldest of them has waited, and the write lease that keeps a retry from racing an
orphan of a killed attempt; and the one-line summary of a failed task that the log and the
alerts (opinion.notify) carry. Light: no Airflow at import time (only the skip in
`emit_mentions` imports it), so `opinion.orchestration` and `opinion.notify` both use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opinion.config import Settings

log = logging.getLogger(__name__)

#: `opinion_load`'s freshness check fails when a mentions partition has waited longer than
#: this for the load (hours; the DAG param `max_load_lag_hours` overrides it per run).
DEFAULT_MAX_LOAD_LAG_H = 12.0


@contextlib.contextmanager
def extract_lease(s: Settings, name: str) -> Iterator[bool]:
    """Hold the write lease of one partition's mentions while extracting it; yields whether
    another process held it first. A retry that starts while an orphan of a killed attempt is
    still writing that partition waits for it, then re-checks, instead of extracting it twice
    (F3). Local lake: a file lock in the lake (every process on the machine). Object storage
    has no locks: the lease is per host there, and the clean stops end orphans."""
    from filelock import FileLock, Timeout

    from opinion.locks import lock_timeout

    safe = re.sub(r"[^A-Za-z0-9_.\-]", "-", name)[:120]
    if s.lake.remote:
        key = hashlib.sha1(str(s.lake.root).encode()).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / "opinion-locks" / key
    else:
        folder = Path(s.lake.root) / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f"extract-{safe}.lock"))
    waited = False
    try:
        lock.acquire(timeout=0)
    except Timeout:
        waited = True
        log.warning("partition %s is being extracted by another process (orphan?): waiting", name)
        try:
            lock.acquire(timeout=lock_timeout())
        except Timeout:
            raise RuntimeError(f"partition {name} is still held by another extract") from None
    try:
        yield waited
    finally:
        lock.release()


@dataclass
class Backlog:
    """Mentions partitions the published warehouse lacks; `known=False` when no snapshot is
    readable here (a worker without the warehouse, or no load yet)."""

    known: bool
    partitions: list[str] = field(default_factory=list)
    oldest_written: datetime | None = None

    @property
    def waiting(self) -> int:
        return len(self.partitions)

    def lag_hours(self, now: datetime | None = None) -> float:
        """How long the oldest unloaded partition has waited (0 when nothing waits)."""
        if self.oldest_written is None:
            return 0.0
        now = now or datetime.now(UTC)
        return max(0.0, (now - self.oldest_written).total_seconds() / 3600)


def loaded_fingerprints(snapshot: Path) -> dict[str, str] | None:
    """`loaded_partitions` (mentions) of the published snapshot, read-only through an ATTACH
    from an in-memory database (a read-write open would block the loader); None if unreadable."""
    import duckdb

    if not snapshot.is_file():
        return None
    con = duckdb.connect(":memory:")
    try:
        quoted = str(snapshot).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS snap (READ_ONLY)")
        rows = con.execute(
            "SELECT lake_path, fingerprint FROM snap.loaded_partitions WHERE kind = 'mentions'"
        ).fetchall()
        return dict(rows)
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        log.warning("cannot read the published warehouse %s: %s", snapshot, first)
        return None
    finally:
        con.close()


def _written_at(part: Any) -> datetime | None:
    """When the partition's mentions file was last written (local mtime; on object storage
    the store's LastModified through universal_pathlib's stat); None when it cannot be told."""
    try:
        mtime = float(part.file("mentions").stat().st_mtime)
    except Exception:  # noqa: BLE001 - a store without times: the lag is unknown, not an error
        return None
    return datetime.fromtimestamp(mtime, tz=UTC) if mtime > 0 else None


def backlog(s: Settings) -> Backlog:
    """The mentions partitions in the lake whose fingerprint the published warehouse does not
    hold, and when the oldest of them was written."""
    loaded = loaded_fingerprints(Path(s.warehouse))
    if loaded is None:
        return Backlog(known=False)
    out = Backlog(known=True)
    for part in s.lake.list_partitions("mentions"):
        try:
            if loaded.get(part.relpath) == part.fingerprint():
                continue
        except OSError:  # replaced while listing: the load will see it
            pass
        out.partitions.append(part.relpath)
        written = _written_at(part)
        if written and (out.oldest_written is None or written < out.oldest_written):
            out.oldest_written = written
    return out


def emit_mentions(s: Settings, total: dict) -> dict:
    """`extracted`: emit the mentions asset when this run extracted something OR the lake
    holds mentions the warehouse has not loaded, or when that cannot be told here (a no-op
    load costs seconds); skip (no event) only when both say nothing waits (F2: a retry after a
    lost success still emits)."""
    found = backlog(s)
    total["unloaded_partitions"] = found.waiting if found.known else -1
    if total.get("partitions") or not found.known or found.waiting:
        if not total.get("partitions"):
            log.info(
                "nothing extracted by this run, but %s mentions partitions are not in the "
                "published warehouse: emitting the asset so opinion_load runs",
                found.waiting if found.known else "an unknown number of (no snapshot here)",
            )
        return total
    from airflow.sdk.exceptions import AirflowSkipException

    log.info("nothing extracted and the warehouse holds every mentions partition: no asset event")
    raise AirflowSkipException("nothing to load (every mentions partition is loaded)")


class StaleWarehouse(RuntimeError):
    """The published warehouse lags the lake by more than the allowed hours."""


def check_load_lag(s: Settings, max_hours: float | None = None) -> dict:
    """Freshness by load time, not post age (historical data is not stale): fails when a
    mentions partition has waited more than `max_hours` for the load. A warehouse that holds
    everything the lake has is fresh, however old its posts."""
    limit = DEFAULT_MAX_LOAD_LAG_H if max_hours is None else float(max_hours)
    started = time.time()
    found = backlog(s)
    exact = found.lag_hours()
    lag = round(exact, 3)
    report = {
        "known": found.known,
        "unloaded_partitions": found.waiting,
        "lag_hours": lag,
        "max_lag_hours": limit,
        "seconds": round(time.time() - started, 2),
    }
    if not found.known:
        log.warning("freshness: no published warehouse readable here, nothing to compare")
        return report
    log.info("freshness: %d partitions wait for the load, oldest %.2f h", found.waiting, lag)
    if found.waiting and exact > limit:
        examples = ", ".join(found.partitions[:3])
        raise StaleWarehouse(
            f"{found.waiting} mentions partitions not loaded, the oldest for {lag:.1f} h "
            f"(max {limit:g} h; e.g. {examples})"
        )
    return report


# ---------------------------------------------------------------- failures, in one line


def first_line(exc: BaseException | str | None) -> str:
    if exc is None:
        return "-"
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    name = exc.__class__.__name__ if isinstance(exc, BaseException) else ""
    return f"{name}: {line}" if name and line else (name or line or "-")


def failure_summary(context: dict) -> str:
    """One line for a failed task: dag, task (map index), try, first line of the exception."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        # the job / chunk name when Airflow rendered it already (it does so at the task's end)
        task_id = f"{task_id}[{getattr(ti, 'rendered_map_index', None) or map_index}]"
    try_number = getattr(ti, "try_number", "?")
    run_id = getattr(ti, "run_id", None) or context.get("run_id", "?")
    return (
        f"opinion task failed: dag={dag_id} task={task_id} run={run_id} try={try_number} "
        f"error={first_line(context.get('exception'))}"
    )
