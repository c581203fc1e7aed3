"""Per-source incremental state (`source_state`): cursors such as "newest id seen".

Cursors live in the writer database, so only the single writer process may call these.
"""

from __future__ import annotations

import duckdb


def get_cursor(con: duckdb.DuckDBPyConnection, source: str, key: str) -> str | None:
    """The cursor stored for (source, key), or None."""
    row = con.execute(
        "SELECT cursor FROM source_state WHERE source = ? AND key = ?", [source, key]
    ).fetchone()
    return None if row is None else row[0]


def set_cursor(con: duckdb.DuckDBPyConnection, source: str, key: str, cursor: str | None) -> None:
    """Insert or replace the cursor for (source, key) (updated_at = now)."""
    con.execute(
        """
        INSERT INTO source_state (source, key, cursor, updated_at) VALUES (?, ?, ?, now())
        ON CONFLICT (source, key) DO UPDATE
            SET cursor = excluded.cursor, updated_at = excluded.updated_at
        """,
        [source, key, cursor],
    )
