"""Load the lake into the writer warehouse, then check and publish it.

`load_lake(settings)` opens `settings.writer_warehouse` read-write (the single writer) and:

1. for every `mentions/source=/day=` partition whose files changed since they were last loaded
   (`loaded_partitions.fingerprint`), in ONE transaction: upsert its posts on `post_id`, delete
   posts this partition loaded before that are gone from it, replace the mentions of its posts,
   record a `runs` row and the new fingerprint. A kill mid-transaction leaves nothing behind:
   DuckDB rolls the transaction back when the file is reopened;
2. the same for every `rejects/` file (upsert on `reject_id`, drop rows the file no longer
   holds); rows of rejects files that were deleted from the lake are removed;
3. recomputes `posts.dup_of` over the whole table;
4. runs the quality checks and publishes the snapshot (`publish.publish`).

This module is the orchestration of one load; the steps live in `merge` (1, 2: reading lake
files and merging them in bulk), `dup_of` (3), `aggregates` (the insights tables) and
`publish` (4); `ledger` holds what they record (`LoadReport`, `runs`, the generation).
`run_load` is the entry point for the pipeline: `load_lake` under the writer lock.
"""

from __future__ import annotations

import errno
import logging
import re
import time
from pathlib import Path

import duckdb

from opinion.config import Settings
from opinion.lake import Lake
from opinion.locks import held
from opinion.warehouse.dup_of import recompute_dup_of
from opinion.warehouse.ledger import LoadReport, bump_generation, fail, generation
from opinion.warehouse.merge import (
    batches,
    load_mentions_batch,
    load_rejects_file,
    remove_rejects_file,
)
from opinion.warehouse.migrate import connect
from opinion.warehouse.publish import LAST_PUBLISH, publish, snapshot_generation
from opinion.warehouse.quality import DEFAULT_MAX_AGE_DAYS, run_checks
from opinion.warehouse.resources import apply_limits

log = logging.getLogger(__name__)

__all__ = [
    "LoadError",
    "LoadReport",
    "bump_generation",
    "generation",
    "load_into",
    "load_lake",
    "mirror_cursors",
    "run_load",
]


class LoadError(RuntimeError):
    """Some partitions failed to load (the others were loaded and published)."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        failed = "; ".join(f"{p}: {m}" for p, m in report.partitions_failed.items())
        super().__init__(f"{len(report.partitions_failed)} lake files failed to load: {failed}")


def _loaded_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT lake_path, fingerprint FROM loaded_partitions").fetchall())


def load_into(con: duckdb.DuckDBPyConnection, lake_dir: Path, report: LoadReport) -> None:
    """Merge the changed lake files into the writer (no dup_of, aggregates, checks, publish)."""
    loaded = _loaded_fingerprints(con)
    changed = []
    for part in Lake.of(lake_dir).list_partitions("mentions"):
        try:
            if loaded.get(part.relpath) == part.fingerprint():
                report.partitions_skipped += 1
                continue
        except OSError as exc:  # a partition deleted while listing
            fail(con, part.relpath, exc, report)
            continue
        changed.append(part)
    for batch in batches(changed):
        load_mentions_batch(con, batch, report)
    present = set()
    for rf in Lake.of(lake_dir).list_rejects():
        present.add(rf.relpath)
        try:
            if loaded.get(rf.relpath) == f"rejects={rf.lake.file_fingerprint(rf.path)}":
                report.partitions_skipped += 1
                continue
            load_rejects_file(con, rf, report)
        except Exception as exc:
            fail(con, rf.relpath, exc, report)
    gone = con.execute(
        "SELECT lake_path FROM loaded_partitions WHERE kind = 'rejects' ORDER BY lake_path"
    ).fetchall()
    for (rel,) in gone:
        if rel not in present:
            remove_rejects_file(con, rel, report)


def mirror_cursors(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> int:
    """Copy the collectors' cursors (JSON files in the lake, written by parallel collect tasks
    that may not open DuckDB) into `source_state`, so analysts can see where each source is."""
    from opinion.sources.state import all_cursors

    cursors = all_cursors(lake_dir)
    for c in cursors:
        current = con.execute(
            "SELECT cursor FROM source_state WHERE source = ? AND key = ?", [c["source"], c["key"]]
        ).fetchone()
        if current is None or current[0] != c["cursor"]:
            con.execute(
                "INSERT INTO source_state (source, key, cursor, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source, key) DO UPDATE "
                "SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                [c["source"], c["key"], c["cursor"], c["updated_at"]],
            )
            bump_generation(con)
    return len(cursors)


def load_lake(
    settings: Settings,
    *,
    raw_rows: int | None = None,
    publish_snapshot: bool = True,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    freshness_required: bool = False,
    rebuild: bool = False,
) -> LoadReport:
    """Load every changed lake partition into `settings.writer_warehouse`, refresh `dup_of`
    and the aggregates for what changed, then run the quality checks and publish
    `settings.warehouse` (unless `publish_snapshot=False`).

    Idempotent: unchanged partitions are skipped, and a call that finds nothing changed (and a
    snapshot already holding the writer's generation) does no aggregate work and does not
    publish. `rebuild=True` recomputes `dup_of` and every aggregate from all rows (after a
    taxonomy or schema change). Raises `QualityError` if a required check fails (nothing is
    published), `LoadError` (after publishing the partitions that did load) if some lake files
    could not be loaded.
    """
    from opinion.warehouse.aggregates import LAST_TIMINGS, refresh  # the insights tables

    t0 = time.monotonic()
    report = LoadReport()
    writer = Path(settings.writer_warehouse)
    con = connect(writer)
    try:
        apply_limits(con, writer.with_name(writer.name + ".spill"))
        step = time.monotonic()

        def lap(name: str) -> None:
            nonlocal step
            now = time.monotonic()
            report.timings[name] = round(now - step, 3)
            step = now

        load_into(con, settings.lake_dir, report)
        mirror_cursors(con, settings.lake_dir)
        lap("merge")
        report.dup_of_changed = recompute_dup_of(con, full=rebuild)
        lap("dup_of")
        LAST_TIMINGS.clear()
        report.aggregates = refresh(con, settings, full=rebuild)
        lap("aggregates")
        report.timings.update({f"aggregates.{k}": v for k, v in LAST_TIMINGS.items()})
        current = generation(con)
        if publish_snapshot and (rebuild or snapshot_generation(settings) != current):
            report.checks = publish(
                settings,
                con,
                raw_rows=raw_rows,
                max_age_days=max_age_days,
                freshness_required=freshness_required,
                full_checks=rebuild,
            )
            report.published = Path(settings.warehouse)
            lap("checks_and_publish")
            report.publish_mode = str(LAST_PUBLISH.get("mode", ""))
            steps = LAST_PUBLISH.get("seconds") or {}
            report.timings.update({f"publish.{k}": v for k, v in steps.items()})  # type: ignore[union-attr]
        elif raw_rows is not None or freshness_required:  # the caller asked for the checks
            report.checks = run_checks(
                con,
                raw_rows,
                max_age_days=max_age_days,
                freshness_required=freshness_required,
            )
    finally:
        con.close()  # no-op when publish already closed it
        report.seconds = time.monotonic() - t0
    if report.partitions_failed:
        raise LoadError(report)
    log.info(
        "load: %d partitions loaded, %d skipped, %d failed in %.2fs",
        len(report.partitions_loaded) + len(report.rejects_files_loaded),
        report.partitions_skipped,
        len(report.partitions_failed),
        report.seconds,
    )
    return report


def run_load(settings: Settings, rebuild: bool = False) -> LoadReport:
    """Merge the lake into the warehouse (single writer) and publish the read snapshot;
    `rebuild` recomputes dup_of and every aggregate from all rows.

    A second `load` of the same warehouse waits for the first (`OPINION_LOCK_TIMEOUT`, default
    600 s) instead of failing on DuckDB's file lock, then stops with one clear line. Disk full
    (ENOSPC, DuckDB's Fatal/Transaction errors included) and a damaged writer file are one
    line as well; `rebuild` moves a damaged writer file aside and builds it again from the
    lake (the published snapshot keeps serving meanwhile)."""
    writer = Path(settings.writer_warehouse)
    with held(writer.with_name(writer.name + ".lock"), f"a load of {writer.name}"):
        try:
            return _no_space(lambda: load_lake(settings, rebuild=rebuild), "load")
        except duckdb.Error as exc:
            if not _damaged(exc):
                raise
            if not rebuild:
                raise RuntimeError(
                    f"load: the writer warehouse {writer} is damaged ({_first_line(exc)}); "
                    f"`opinion load --rebuild` moves it aside and rebuilds it from the lake"
                ) from None
            aside = _set_aside(writer)
            log.warning(
                "load: the writer warehouse %s was damaged (%s); moved to %s, rebuilding it "
                "from the lake", writer, _first_line(exc), aside.name,
            )  # fmt: skip
            return _no_space(lambda: load_lake(settings, rebuild=True), "load")


#: What DuckDB says of a file it cannot trust (garbage bytes, a torn block, a bad header)
_DAMAGE = (
    "not a valid duckdb database",
    "corrupt database",
    "does not match stored checksum",
    "failed to read database header",
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _damaged(exc: BaseException) -> bool:
    return any(m in str(exc).lower() for m in _DAMAGE) and "no space left" not in str(exc).lower()


def _set_aside(writer: Path) -> Path:
    """Rename the damaged writer (and its WAL, which belongs to it) to `NAME.damaged-STAMP`."""
    import datetime as dt

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    aside = writer.with_name(f"{writer.name}.damaged-{stamp}")
    writer.replace(aside)
    wal = writer.with_name(writer.name + ".wal")
    if wal.exists():
        wal.replace(aside.with_name(aside.name + ".wal"))
    return aside


def _no_space(fn, stage: str):
    """Run `fn`; a full disk, or a writer file another program holds, becomes one clear
    RuntimeError instead of a traceback. DuckDB reports a full disk as IOException, or as
    FatalException/TransactionException when it happens in a checkpoint or a commit (the
    WAL keeps the data: the next load replays it)."""
    try:
        return fn()
    except duckdb.Error as exc:
        first = _first_line(exc)
        if "no space left" in first.lower():
            where = re.search(r'file "([^"]+)"', first)
            at = f" ({where.group(1)})" if where else ""
            raise RuntimeError(
                f"{stage}: no space left on device{at}; free space and re-run (what was "
                "loaded is kept)"
            ) from None
        if isinstance(exc, duckdb.IOException) and "lock" in first.lower():
            raise RuntimeError(f"{stage}: {first}") from None
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        raise RuntimeError(
            f"{stage}: no space left on device{where}; free space and re-run"
        ) from None
