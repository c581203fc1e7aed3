"""Publish the writer database as the read snapshot `Settings.warehouse`.

DuckDB lets a process that holds a file read-write lock out every other process, readers
included. So the loader writes a private file (`Settings.writer_warehouse`) and, after a load
whose quality checks pass, publishes it: CHECKPOINT (fold the WAL into the file), close, copy
to a temp file next to the snapshot, fsync, `os.replace` onto the snapshot. Readers that have
the old snapshot open keep reading the old inode; new readers get the new one. Readers are
never locked out and never see half a load.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from opinion.config import Settings
from opinion.warehouse.migrate import connect
from opinion.warehouse.quality import DEFAULT_MAX_AGE_DAYS, CheckResult, run_checks


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(dest: Path) -> None:
    """Delete temp copies a crashed publish left behind (`.NAME.PID.tmp` of a process that
    no longer runs): each is as large as the warehouse."""
    for tmp in dest.parent.glob(f".{dest.name}.*.tmp"):
        pid = tmp.name[len(dest.name) + 2 : -len(".tmp")]
        if not pid.isdecimal() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (PermissionError, OverflowError):
            pass


def copy_atomically(src: Path, dest: Path) -> Path:
    """Copy `src` onto `dest` via a temp file in dest's directory and `os.replace`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        # copyfile uses the kernel's copy (copy_file_range/sendfile): no round trip through
        # Python buffers, and a reflink on filesystems that support one
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as fout:
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)
    return dest


def snapshot_generation(settings: Settings) -> str | None:
    """The loader generation the published snapshot holds (None: no snapshot, or older).

    Read through an ATTACH from a fresh in-memory database: DuckDB's per-process instance
    cache could otherwise hand back an older snapshot this process opened before a swap.
    """
    path = Path(settings.warehouse)
    if not path.exists():
        return None
    con = duckdb.connect(":memory:")
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS snap (READ_ONLY)")
        row = con.execute("SELECT value FROM snap.load_state WHERE key = 'generation'").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return None if row is None else row[0]


def publish(
    settings: Settings,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    raw_rows: int | None = None,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    freshness_required: bool = False,
) -> list[CheckResult]:
    """Run the quality checks on the writer database and, if they pass, publish it.

    `con` is an open read-write connection to `settings.writer_warehouse` (the loader's); it is
    closed here in every case. Without one, the writer file is opened (and migrated) here.
    Raises `QualityError` when a required check fails; the published file is then untouched.
    Returns the check results.
    """
    writer = Path(settings.writer_warehouse)
    if con is None:
        con = connect(writer)
    try:
        results = run_checks(
            con,
            raw_rows,
            max_age_days=max_age_days,
            freshness_required=freshness_required,
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = writer.with_name(writer.name + ".wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise RuntimeError(f"{wal} still holds data after CHECKPOINT; not publishing")
    copy_atomically(writer, Path(settings.warehouse))
    return results
