"""Inter-process locks for the writers that must not run twice at once on the same data.

Ground layer. Two `opinion collect` runs of one source read-merge-replace the same raw
partitions and would drop each other's posts; two `opinion load` runs fight over the writer
file. Each takes a `filelock` lock (OS-level, released when the process dies, so a killed run
never leaves a stale lock) and waits up to `OPINION_LOCK_TIMEOUT` seconds (default 600) for
the other to finish; after that it stops with one clear line instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_TIMEOUT_S = 600.0


def lock_timeout() -> float:
    value = os.environ.get("OPINION_LOCK_TIMEOUT")
    try:
        return float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"OPINION_LOCK_TIMEOUT must be seconds, got {value!r}") from None


class LockBusy(RuntimeError):
    """Another process held the lock for longer than the timeout."""


@contextmanager
def held(path: Path, what: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock file `path` (created with its folder) for the block; `what` names the
    work in the message shown when the wait times out."""
    from filelock import FileLock, Timeout

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = lock_timeout() if timeout is None else timeout
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise LockBusy(
            f"{what} is already running in another process (waited {wait:g} s for {path}); "
            "try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()
