"""DuckDB memory and spill settings for the loader, sized from the machine.

Without a limit DuckDB assumes 80% of physical memory and dies with "out of memory" when a
rebuild's hash tables outgrow it (issue 16: a 10 M-mention rebuild hit a 12 GB limit). With
`memory_limit` below what the machine (or its cgroup) really has and a `temp_directory` on the
warehouse's disk, big joins and aggregates spill to disk instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

#: Share of the available memory the loader's DuckDB may use (the rest: Python, Arrow
#: batches, the page cache, other processes on the box).
MEMORY_SHARE = 0.5
MIN_MEMORY_BYTES = 256 * 1024**2
MAX_MEMORY_BYTES = 4 * 1024**3  # keeps a full 10 M-mention load under the 6 GB RSS bar
ENV_MEMORY = "OPINION_DUCKDB_MEMORY"  # e.g. "2GB": overrides the computed limit
ENV_THREADS = "OPINION_DUCKDB_THREADS"
CHECKPOINT_THRESHOLD = "1GB"


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def machine_memory() -> int:
    """Bytes this process may reasonably use: MemAvailable, capped by a cgroup limit."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _cgroup_limit()
    return min(available, limit) if limit else available


def memory_limit_bytes() -> int:
    """The loader's DuckDB `memory_limit`: half the available memory, within [256 MB, 4 GB]."""
    return int(min(MAX_MEMORY_BYTES, max(MIN_MEMORY_BYTES, machine_memory() * MEMORY_SHARE)))


def apply_limits(con: duckdb.DuckDBPyConnection, spill_dir: Path) -> dict[str, str]:
    """Set `memory_limit`, `temp_directory` (DuckDB creates it when it spills) and insertion
    order on `con`."""
    memory = os.environ.get(ENV_MEMORY) or f"{memory_limit_bytes() // 1024**2}MB"
    settings = {
        "memory_limit": memory,
        "temp_directory": str(spill_dir),
        # order of rows inside a table does not matter to any reader; lets DuckDB stream
        "preserve_insertion_order": "false",
        # one checkpoint per load (the publish's) instead of one per commit whose WAL passed
        # 16 MB: each costs ~1 s on a 10 GB file whatever it writes. The WAL still makes
        # every commit durable; a crash replays it
        "checkpoint_threshold": CHECKPOINT_THRESHOLD,
    }
    if os.environ.get(ENV_THREADS):
        settings["threads"] = os.environ[ENV_THREADS]
    for key, value in settings.items():
        con.execute(f"SET {key} = '{value.replace(chr(39), chr(39) * 2)}'")
    return settings
