"""Read-only access to the published warehouse snapshot, safe across atomic swaps.

The loader publishes by `os.replace`-ing a new file onto `Settings.warehouse`. A plain
`duckdb.connect(path, read_only=True)` is not enough while another connection to the same path
is open: DuckDB's per-process instance cache hands back the OLD database. So each snapshot
(identified by inode + mtime) gets its own in-memory DuckDB with the file ATTACHed read-only;
requests take a cursor from the current one, and a changed inode opens a fresh one. Requests
already running finish on the old snapshot (the unlinked inode stays readable until closed).
Once the snapshot is attached, external access is switched off and the configuration locked,
as for `opinion sql`: no query can read or write any other file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

RETIRE_GRACE_S = 120.0


class WarehouseMissing(FileNotFoundError):
    """No published snapshot at the configured path."""


class Snapshot:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []

    def _identity(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise WarehouseMissing(
                f"no published warehouse at {self.path} (run `opinion demo` or `opinion load`)"
            ) from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _current(self) -> duckdb.DuckDBPyConnection:
        key = self._identity()
        with self._lock:
            if self._con is None or key != self._key:
                con = duckdb.connect(":memory:")
                con.execute("SET TimeZone = 'UTC'")
                # the path is ours (settings / CLI), never request input; quote it for SQL
                quoted = str(self.path).replace("'", "''")
                con.execute(f"ATTACH '{quoted}' AS wh (READ_ONLY)")
                # from here on SQL reaches no other file (salt, lake, writer file, /etc) and
                # writes none; the lock keeps a query from switching it back on
                con.execute("SET enable_external_access = false")
                con.execute("SET lock_configuration = true")
                if self._con is not None:
                    self._retired.append((time.monotonic(), self._con))
                self._con, self._key = con, key
            if self._retired:  # on every request: the loader can write a slot only once
                self._close_retired(older_than=RETIRE_GRACE_S)  # no reader holds it
            return self._con

    def _close_retired(self, older_than: float) -> None:
        # a retired snapshot may still serve requests that started before the swap; close it
        # only after a grace period (closing a connection also closes its cursors)
        now, keep = time.monotonic(), []
        for since, con in self._retired:
            if now - since >= older_than:
                try:
                    con.close()
                except duckdb.Error:  # pragma: no cover
                    pass
            else:
                keep.append((since, con))
        self._retired = keep

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the current snapshot, with `wh` (the warehouse) as default catalog."""
        cur = self._current().cursor()
        try:
            cur.execute("USE wh")
            yield cur
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._retired.append((0.0, self._con))
            self._con, self._key = None, None
            self._close_retired(older_than=0.0)
