"""docs/warehouse.md must describe every table/view and column of a freshly migrated warehouse.

Format (for anyone adding tables or views): a heading naming the object, e.g. "### `posts`",
followed by a markdown table with one row per column that starts with "| column_name |"
(backticks optional). Every ```sql block in the doc must run against a loaded warehouse.
"""

from __future__ import annotations

import re
from pathlib import Path

from opinion.warehouse import connect, load_lake

from .conftest import REPO, make_lake

DOC = REPO / "docs" / "warehouse.md"
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_ROW = re.compile(r"^\|\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s*\|")


def documented(md: str) -> list[tuple[str, set[str]]]:
    """(heading text, first-cell names of the table rows under it) per section."""
    sections: list[tuple[str, set[str]]] = [("", set())]
    in_code = False
    for line in md.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        heading = _HEADING.match(line)
        if heading:
            sections.append((heading.group(2).replace("`", ""), set()))
            continue
        row = _ROW.match(line)
        if row:
            sections[-1][1].add(row.group(1))
    return sections


def names_object(heading: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", heading) is not None


def test_every_table_and_column_is_documented(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    rows = con.execute(
        """
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
        WHERE c.table_schema = 'main'
        ORDER BY c.table_name, c.ordinal_position
        """
    ).fetchall()
    con.close()
    assert rows, "no tables found"
    sections = documented(DOC.read_text(encoding="utf-8"))
    missing = []
    for table, column in rows:
        under = [cols for heading, cols in sections if names_object(heading, table)]
        if not under:
            missing.append(f"{table} (no heading naming it)")
        elif not any(column in cols for cols in under):
            missing.append(f"{table}.{column}")
    assert not missing, f"not documented in {DOC.name}: {missing}"


def test_example_queries_run(settings) -> None:
    make_lake(settings.lake_dir, days=2, per_day=4)
    load_lake(settings)
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    con = connect(settings.warehouse, read_only=True)
    try:
        for sql in blocks:
            for statement in filter(str.strip, sql.split(";")):
                con.sql(statement).to_arrow_table()
    finally:
        con.close()
