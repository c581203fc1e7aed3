"""Publish the writer database as the read snapshot `Settings.warehouse`.

DuckDB lets a process that holds a file read-write lock out every other process, readers
included. So the loader writes a private file (`Settings.writer_warehouse`) and, after a load
whose quality checks pass, publishes it to readers without ever writing a file they read:

* Two slot files sit next to the snapshot (`NAME.slot-a`, `NAME.slot-b`); the snapshot path is
  a hard link to one of them. A publish writes the OTHER slot, then links it onto the snapshot
  path with `os.replace`. Readers that have the old snapshot open keep reading its inode; new
  readers get the new one. Readers are never locked out and never see half a load.
* Writing a slot is a delta: the slot is ATTACHed read-write to the writer's connection and
  only the rows the change log (opinion/warehouse/changes.py) names since the slot's own
  `change_seq` are replaced, plus the small bookkeeping tables whole; one transaction, then
  CHECKPOINT. Its cost follows the change since that slot was written, not the history.
* The whole writer file is copied instead (CHECKPOINT, close, copy to a temp file, fsync,
  `os.replace` onto the slot) when the slot is missing, has another schema version, is still
  open (a reader that kept the retired snapshot: DuckDB's lock refuses the ATTACH; or this very
  process, seen in /proc/self/fd), or the log says too much changed (first load, rebuild).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import datetime
from pathlib import Path

import duckdb

from opinion.config import Settings
from opinion.warehouse import changes
from opinion.warehouse.migrate import connect
from opinion.warehouse.quality import DEFAULT_MAX_AGE_DAYS, CheckResult, run_checks


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


log = logging.getLogger(__name__)

#: Tables a delta writes per changed partition, post or (brand, day) group, not whole.
KEYED_TABLES = ("posts", "mentions", "agg_daily", "verbatims")
#: Why-copy reasons that are about a reader holding the slot, not about its content: the
#: other slot is then the published one, only one publish behind, and can take a delta.
READER_REASONS = ("the slot is still open in this process", "cannot open the slot read-write")
#: Writer-only bookkeeping that readers never need.
WRITER_ONLY_TABLES = ("change_log",)


def _remove_stale_temps(dest: Path) -> None:
    """Delete temp files a crashed publish left behind (`.NAME.PID.tmp` copies, each as large
    as the warehouse, and `.NAME.PID.lnk` links) of a process that no longer runs."""
    for tmp in [*dest.parent.glob(f".{dest.name}.*.tmp"), *dest.parent.glob(f".{dest.name}.*.lnk")]:
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


def snapshot_state(path: Path, key: str) -> str | None:
    """`load_state[key]` of the published snapshot at `path` (None: no file, older, no key).

    Read through an ATTACH from a fresh in-memory database: DuckDB's per-process instance
    cache could otherwise hand back an older snapshot this process opened before a swap.
    """
    if not path.exists():
        return None
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS snap (READ_ONLY)")
        return _state(con, "snap", key)
    except duckdb.Error:
        return None
    finally:
        con.close()


def snapshot_generation(settings: Settings) -> str | None:
    """The loader generation the published snapshot holds (None: no snapshot, or older)."""
    return snapshot_state(Path(settings.warehouse), "generation")


def slot_paths(dest: Path) -> tuple[Path, Path]:
    """The two slot files the snapshot path `dest` links to in turn."""
    return dest.with_name(f"{dest.name}.slot-a"), dest.with_name(f"{dest.name}.slot-b")


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def target_slot(dest: Path) -> Path:
    """The slot to write: the one the snapshot does NOT link to (slot-a when neither)."""
    a, b = slot_paths(dest)
    current = _file_id(dest)
    if current is not None and _file_id(a) == current:
        return b
    return a


def open_in_this_process(path: Path) -> bool:
    """Whether this process holds `path`'s inode open (DuckDB's file lock does not protect a
    file from the process that holds it). Without /proc, assume it does."""
    target = _file_id(path)
    if target is None:
        return False
    fds = Path("/proc/self/fd")
    if not fds.is_dir():  # pragma: no cover - not Linux
        return True
    for fd in os.listdir(fds):
        try:
            st = os.stat(fds / fd)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == target:
            return True
    return False


def link_atomically(src: Path, dest: Path) -> None:
    """Make `dest` a hard link to `src` in one `os.replace` (a copy where links fail)."""
    _remove_stale_temps(dest)
    if _file_id(src) == _file_id(dest):
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.lnk")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # a filesystem without hard links: copy as before
        copy_atomically(src, dest)
        return
    try:
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)


def _state(con: duckdb.DuckDBPyConnection, schema: str, key: str) -> str | None:
    row = con.execute(f"SELECT value FROM {schema}.load_state WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def _set_state(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO load_state VALUES (?, ?, now()) ON CONFLICT (key) "
        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [key, value],
    )


def _base_tables(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name",
        [database],
    ).fetchall()
    return [r[0] for r in rows]


def _schema_version(con: duckdb.DuckDBPyConnection, schema: str) -> int:
    row = con.execute(
        f"SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations"
    ).fetchone()
    return int(row[0]) if row else 0


# what to replace in the slot `pub` (rows of the writer `main` by rowid: selecting wide rows
# through a join reads every row's columns; a rowid filter reads only the rows it names)
_DELTA_SQL = """
CREATE OR REPLACE TEMP TABLE _parts AS
    SELECT DISTINCT key AS lake_path FROM change_log WHERE seq > $since AND kind = 'partition';
CREATE OR REPLACE TEMP TABLE _groups AS
    SELECT DISTINCT key AS brand, day FROM change_log WHERE seq > $since AND kind = 'group';
CREATE OR REPLACE TEMP TABLE _write AS
    SELECT rowid AS rid, post_id FROM main.posts
    WHERE lake_partition IN (SELECT lake_path FROM _parts)
       OR post_id IN (SELECT key FROM change_log WHERE seq > $since AND kind = 'post');
CREATE OR REPLACE TEMP TABLE _write_m AS
    SELECT rowid AS rid FROM main.mentions WHERE post_id IN (SELECT post_id FROM _write);
CREATE OR REPLACE TEMP TABLE _drop AS
    SELECT post_id FROM pub.posts
    WHERE lake_partition IN (SELECT lake_path FROM _parts)
       OR post_id IN (SELECT post_id FROM _write);
CREATE OR REPLACE TEMP TABLE _write_agg AS
    SELECT t.rowid AS rid FROM main.agg_daily t SEMI JOIN _groups USING (brand, day);
CREATE OR REPLACE TEMP TABLE _write_verb AS
    SELECT t.rowid AS rid FROM main.verbatims t SEMI JOIN _groups USING (brand, day);
"""

_DELTA_WRITE_SQL = """
DELETE FROM pub.mentions WHERE post_id IN (SELECT post_id FROM _drop);
DELETE FROM pub.posts WHERE post_id IN (SELECT post_id FROM _drop);
INSERT INTO pub.posts BY NAME
    SELECT * FROM main.posts WHERE rowid IN (SELECT rid FROM _write);
INSERT INTO pub.mentions BY NAME
    SELECT * FROM main.mentions WHERE rowid IN (SELECT rid FROM _write_m);
DELETE FROM pub.agg_daily t USING _groups g WHERE t.brand = g.brand AND t.day = g.day;
INSERT INTO pub.agg_daily BY NAME
    SELECT * FROM main.agg_daily WHERE rowid IN (SELECT rid FROM _write_agg);
DELETE FROM pub.verbatims t USING _groups g WHERE t.brand = g.brand AND t.day = g.day;
INSERT INTO pub.verbatims BY NAME
    SELECT * FROM main.verbatims WHERE rowid IN (SELECT rid FROM _write_verb)
    ORDER BY brand, day;
"""

_DELTA_TEMPS = ("_parts", "_groups", "_write", "_write_m", "_drop", "_write_agg", "_write_verb")


def sync_slot(con: duckdb.DuckDBPyConnection, slot: Path, seq: int) -> str | None:
    """Bring `slot` up to the writer's state (change log entry `seq`) by replacing only the
    rows changed since the slot's own `change_seq`. Returns None when done, else why a full
    copy is needed instead (the slot is then untouched)."""
    if not slot.exists():
        return "no slot file yet"
    if open_in_this_process(slot):
        return "the slot is still open in this process"
    quoted = str(slot).replace("'", "''")
    try:
        con.execute(f"ATTACH '{quoted}' AS pub")
    except duckdb.Error as exc:  # a reader still holds the retired snapshot, or not DuckDB
        return f"cannot open the slot read-write ({str(exc).splitlines()[0][:200]})"
    try:
        if _schema_version(con, "pub") != _schema_version(con, "main"):
            return "the slot has another schema version"
        since_text = _state(con, "pub", "change_seq")
        floor = int(_state(con, "main", "log_floor") or 0)
        if since_text is None or not since_text.isdecimal() or int(since_text) < floor:
            return "the change log no longer covers the slot"
        since = int(since_text)
        full = con.execute(
            "SELECT count(*) FROM change_log WHERE seq > ? AND kind = 'full'", [since]
        ).fetchone()
        if full and full[0]:
            return "too much changed since the slot was written"
        whole = [
            t
            for t in _base_tables(con, _current_database(con))
            if t not in KEYED_TABLES and t not in WRITER_ONLY_TABLES
        ]
        if set(_base_tables(con, "pub")) - set(WRITER_ONLY_TABLES) != set(whole) | set(
            KEYED_TABLES
        ):
            return "the slot has other tables"
        for stmt in _DELTA_SQL.split(";"):
            if stmt.strip():
                con.execute(stmt, {"since": since} if "$since" in stmt else None)
        con.execute("BEGIN TRANSACTION")
        try:
            for stmt in _DELTA_WRITE_SQL.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            for table in whole:
                con.execute(f"DELETE FROM pub.{table}")
                con.execute(f"INSERT INTO pub.{table} BY NAME SELECT * FROM main.{table}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT pub")
        for temp in _DELTA_TEMPS:
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        return None
    finally:
        con.execute("DETACH pub")


def _current_database(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT current_database()").fetchone()
    return str(row[0]) if row else "main"


def publish(
    settings: Settings,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    raw_rows: int | None = None,
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS,
    freshness_required: bool = False,
    full_checks: bool = False,
) -> list[CheckResult]:
    """Run the quality checks on the writer database and, if they pass, publish it.

    The row checks read the rows written since the last checks that passed
    (`load_state.checks_through`); `full_checks=True` (a rebuild) reads every row.

    `con` is an open read-write connection to `settings.writer_warehouse` (the loader's); it is
    closed here in every case. Without one, the writer file is opened (and migrated) here.
    Raises `QualityError` when a required check fails; the published file is then untouched.
    Returns the check results. `LAST_PUBLISH` says how it was published (delta or copy).
    """
    writer = Path(settings.writer_warehouse)
    dest = Path(settings.warehouse)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if con is None:
        con = connect(writer)
    slot = target_slot(dest)
    steps: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        steps[name] = round(now - clock, 3)
        clock = now

    try:
        row = con.execute("SELECT now()").fetchone()
        checked_at = row[0] if row else None
        through = None if full_checks else _state(con, "main", "checks_through")
        results = run_checks(
            con,
            raw_rows,
            max_age_days=max_age_days,
            freshness_required=freshness_required,
            since=datetime.fromisoformat(through) if through else None,
        )
        if checked_at is not None:  # the rows written before now have passed
            _set_state(con, "checks_through", checked_at.isoformat())
        lap("checks")
        seq = changes.last_seq(con)
        _set_state(con, "change_seq", str(seq))
        con.execute("CHECKPOINT")
        lap("checkpoint")
        published_seq = _published_change_seq(dest)
        why_copy = sync_slot(con, slot, seq)
        if why_copy is None and published_seq is not None:
            # the next publish writes the slot readers now leave: it holds published_seq
            con.execute("DELETE FROM change_log WHERE seq <= ?", [published_seq])
            _set_state(con, "log_floor", str(published_seq))
            con.execute("CHECKPOINT")
        lap("delta" if why_copy is None else "delta_refused")
    finally:
        con.close()
    if why_copy is not None:
        log.info("publish: copying the whole warehouse to %s (%s)", slot.name, why_copy)
        wal = writer.with_name(writer.name + ".wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise RuntimeError(f"{wal} still holds data after CHECKPOINT; not publishing")
        # nobody opens the slot by its name (readers open the snapshot path), so dropping the
        # name is safe: a reader still holding its inode keeps reading it, and otherwise the
        # space is free before the copy needs it (a warehouse-sized file)
        slot.unlink(missing_ok=True)
        copy_atomically(writer, slot)
        lap("copy")
    link_atomically(slot, dest)
    lap("link")
    if why_copy is not None and not why_copy.startswith(READER_REASONS):
        # the other slot is as far behind as this one was (or missing): copy it now too, so
        # the next publish is a delta, not a second copy (one more copy on a full load or a
        # rebuild; the first change after one would otherwise pay it). Its old inode, if a
        # reader still holds it, stays readable; the name gets the new file
        other = next(s for s in slot_paths(dest) if s != slot)
        other.unlink(missing_ok=True)
        copy_atomically(writer, other)
        lap("copy_other")
    LAST_PUBLISH.clear()
    LAST_PUBLISH.update(
        {"mode": "copy" if why_copy else "delta", "why": why_copy or "", "seconds": steps}
    )
    return results


#: How the last `publish` in this process wrote its slot: mode ("delta" or "copy"), why it
#: copied, and seconds per step (checks, checkpoint, delta, copy, link).
LAST_PUBLISH: dict[str, object] = {}


def _published_change_seq(dest: Path) -> int | None:
    """The `change_seq` the published snapshot holds (None: none, or unreadable)."""
    value = snapshot_state(dest, "change_seq")
    return int(value) if value and value.isdecimal() else None
