"""Versioned, forward-only schema migrations for the warehouse.

Migrations are the files `schema/NNNN_name.sql`, applied in version order, each in its own
transaction together with its row in `schema_migrations(version, name, applied_at)`. Applying
is idempotent: `connect()` applies only versions not yet recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

SCHEMA_DIR = Path(__file__).with_name("schema")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations(schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    """All migration files, in version order; duplicate versions are an error."""
    found: dict[int, Migration] = {}
    for path in sorted(schema_dir.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path.name}")
        version = int(m.group(1))
        if version in found:
            raise ValueError(f"two migrations with version {version}: {path.name}")
        found[version] = Migration(version, m.group(2), path)
    return [found[v] for v in sorted(found)]


def applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Versions recorded in `schema_migrations` (empty for a fresh database)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    return [
        r[0]
        for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    ]


def migrate(con: duckdb.DuckDBPyConnection, schema_dir: Path = SCHEMA_DIR) -> list[int]:
    """Apply pending migrations; returns the versions applied now."""
    con.execute(_BOOTSTRAP)
    done = set(applied_versions(con))
    applied = []
    for mig in migrations(schema_dir):
        if mig.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(mig.sql())
            con.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, now())",
                [mig.version, mig.name],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(mig.version)
    return applied


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path` (session time zone UTC).

    DuckDB's progress bar is off: it writes to stdout, where the loader's JSON report goes
    (a bar line after the JSON broke the scale benchmark's parse at 410x).

    Read-write: creates the file if needed and applies pending migrations. DuckDB lets one
    process hold a file read-write and then locks out everyone else, so only the loader opens
    `Settings.writer_warehouse` this way. Read-only (`read_only=True`) never migrates; readers
    use it on the published snapshot `Settings.warehouse`.
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        if not read_only:
            migrate(con)
    except BaseException:
        con.close()
        raise
    return con
