"""Source cursors, kept in the lake (connectors never write DuckDB; the loader mirrors these
files into the warehouse table `source_state`).

Layout: `lake_dir/state/source={name}/{key}.json` holding
`{"source": .., "key": .., "cursor": "..", "updated_at": "ISO-8601 UTC"}`. Writes are atomic
(temp file in the same folder, fsync, `os.replace`), and the runner writes a cursor only after
the raw partitions holding the records it covers are written.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from opinion.lake import Lake

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _check(what: str, value: str) -> str:
    if not _SAFE.match(str(value)) or ".." in str(value):
        raise ValueError(f"{what} must be a safe name ([A-Za-z0-9_.-]), got {value!r}")
    return str(value)


def cursor_path(lake_dir: Path, source: str, key: str) -> Path:
    return (
        Lake.of(lake_dir).path("state")
        / f"source={_check('source', source)}"
        / f"{_check('key', key)}.json"
    )


def read_cursor(lake_dir: Path, source: str, key: str) -> str | None:
    """The stored cursor, or None when there is none (or the file is unreadable)."""
    path = cursor_path(lake_dir, source, key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    cursor = data.get("cursor") if isinstance(data, dict) else None
    return cursor if isinstance(cursor, str) else None


def write_cursor(lake_dir: Path, source: str, key: str, cursor: str) -> Path:
    """Atomically replace the cursor of (source, key)."""
    if not isinstance(cursor, str):
        raise ValueError(f"cursor must be a string, got {type(cursor).__name__}")
    path = cursor_path(lake_dir, source, key)
    body = {
        "source": source,
        "key": key,
        "cursor": cursor,
        "updated_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    Lake.of(lake_dir).write_text(path, json.dumps(body, sort_keys=True))
    return path


def forget_cursors(lake_dir: Path, source: str) -> int:
    """Delete every cursor of `source` (each key: one file, one query), so its next collects
    read from the start; returns how many there were. Used when a raw partition of the
    source is unreadable: whichever key's records it held must be read again."""
    folder = Lake.of(lake_dir).path("state") / f"source={_check('source', source)}"
    gone = 0
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        f.unlink(missing_ok=True)
        gone += 1
    return gone


def all_cursors(lake_dir: Path) -> list[dict]:
    """Every stored cursor as `{source, key, cursor, updated_at}` (updated_at: aware datetime),
    sorted by (source, key). Unreadable files are skipped."""
    root = Lake.of(lake_dir).path("state")
    out = []
    if not root.is_dir():
        return out
    for src_dir in sorted(root.glob("source=*")):
        source = src_dir.name.split("=", 1)[1]
        for f in sorted(src_dir.glob("*.json")):
            if f.name.startswith("."):
                continue
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
                updated = datetime.fromisoformat(data["updated_at"])
                cursor = data["cursor"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            out.append({"source": source, "key": f.stem, "cursor": cursor, "updated_at": updated})
    return out
