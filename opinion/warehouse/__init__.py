"""The DuckDB warehouse: migrations, the lake loader, quality checks and snapshot publishing.

One writer (`load_lake`; `run_load` runs it under the writer lock) owns
`Settings.writer_warehouse`; readers open the published snapshot `Settings.warehouse`
read-only. See docs/warehouse.md.
"""

from opinion.warehouse.load import LoadError, LoadReport, load_lake, run_load
from opinion.warehouse.migrate import applied_versions, connect, migrations
from opinion.warehouse.publish import publish
from opinion.warehouse.quality import CheckResult, QualityError, run_checks
from opinion.warehouse.state import get_cursor, set_cursor

__all__ = [
    "CheckResult",
    "LoadError",
    "LoadReport",
    "QualityError",
    "applied_versions",
    "connect",
    "get_cursor",
    "load_lake",
    "migrations",
    "publish",
    "run_load",
    "run_checks",
    "run_load",
    "set_cursor",
]
