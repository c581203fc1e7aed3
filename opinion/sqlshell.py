"""`opinion sql`: queries and a small interactive shell on the published (read-only) warehouse.

Read-only by construction: the connection is opened with `read_only=True`, so an analyst's
session never blocks the loader and cannot change the data, and with DuckDB's
`enable_external_access=false` + `lock_configuration=true` (`READ_ONLY_CONFIG`), so SQL cannot
read any other file (the author salt, the lake, /etc), write one (`COPY … TO`, `EXPORT
DATABASE`), ATTACH another database (the writer file) or INSTALL/LOAD extensions, and cannot
switch those settings back. CSV output neutralises spreadsheet formula prefixes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from opinion.config import Settings

#: DuckDB settings of every read connection the product opens (here and `serve.db`): no file
#: access beyond the database already open, and no way to turn that back on from SQL.
READ_ONLY_CONFIG = {"enable_external_access": False, "lock_configuration": True}

#: Cells starting with one of these are formulas to Excel/LibreOffice/Sheets (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def connect_published(settings: Settings):
    import duckdb

    if not settings.warehouse.exists():
        raise FileNotFoundError(
            f"no published warehouse at {settings.warehouse} (run `opinion demo` or `opinion load`)"
        )
    try:
        return duckdb.connect(str(settings.warehouse), read_only=True, config=READ_ONLY_CONFIG)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(f"cannot open {settings.warehouse}: {first}") from None


def neutralise_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not evaluate: text starting with a formula prefix gets a
    leading apostrophe (OWASP's advice); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


#: Widest table cell printed; longer values are cut with "…" and a note says how many were.
TABLE_WIDTH = 60


def format_rows(columns: list[str], rows: list[tuple], fmt: str = "table") -> str:
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, r, strict=True)), default=str) for r in rows)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([neutralise_cell(c) for c in columns])
        writer.writerows([neutralise_cell(v) for v in r] for r in rows)
        return buf.getvalue().rstrip("\n")
    cells = [[("NULL" if v is None else str(v)) for v in r] for r in rows]
    widths = [
        min(TABLE_WIDTH, max([len(c)] + [len(r[i]) for r in cells])) for i, c in enumerate(columns)
    ]
    cut = 0

    def cell(value: str, width: int) -> str:
        nonlocal cut
        if len(value) > width:  # never cut silently: mark it and count it
            cut += 1
            return value[: width - 1] + "…"
        return value.ljust(width)

    line = " | ".join(cell(c, w) for c, w in zip(columns, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(cell(v, w) for v, w in zip(r, widths, strict=True)) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    if cut:
        out.append(
            f"({cut} value{'s' if cut != 1 else ''} cut at {TABLE_WIDTH} characters, marked …; "
            "--format csv or json prints them whole)"
        )
    return "\n".join(out)


def statements(con, query: str) -> list:
    """The statements of `query` (comments and `;` handled by DuckDB's own parser), so a query
    starting with a `-- comment` runs and every statement of a script is shown."""
    import duckdb

    if not query.strip():
        raise ValueError("empty query (give a SQL statement, or no QUERY for the shell)")
    try:
        found = con.extract_statements(query)
    except duckdb.Error as exc:
        raise ValueError(str(exc).strip().splitlines()[0]) from None
    if not found:
        raise ValueError("no SQL statement in the query (only comments?)")
    return found


def write_parquet(con, statement, out: str) -> int | None:
    """The result of one statement as a Parquet file at `out` (written by this process: the
    SQL connection itself cannot write files); its row count, None when it returns no rows."""
    import pyarrow.parquet as pq

    relation = con.sql(statement.query)
    if relation is None:
        return None
    table = relation.to_arrow_table()
    pq.write_table(table, out)
    return table.num_rows


def run_query(
    settings: Settings,
    query: str,
    fmt: str = "table",
    echo: Callable[[str], None] = print,
    out: str | None = None,
) -> None:
    """Run every statement of `query` and print each result (a blank line between them);
    `fmt="parquet"` writes the last result to `out` instead."""
    import duckdb

    if fmt == "parquet" and not out:
        raise ValueError("--format parquet needs --out FILE")
    if out and fmt != "parquet":
        raise ValueError("--out is for --format parquet (the other formats print)")
    if not query.strip():
        raise ValueError("empty query (give a SQL statement, or no QUERY for the shell)")
    with connect_published(settings) as con:
        parts = statements(con, query)
        printed = 0
        for i, statement in enumerate(parts):
            try:
                if fmt == "parquet" and i == len(parts) - 1:
                    n = write_parquet(con, statement, out)
                    if n is None:
                        raise ValueError("the last statement returns no result to write")
                    echo(f"wrote {n} row{'s' if n != 1 else ''} to {out}")
                    continue
                cur = con.execute(statement)
                if cur.description is None or fmt == "parquet":
                    continue
                columns = [d[0] for d in cur.description]
                rows = cur.fetchall()
            except duckdb.Error as exc:
                where = f"statement {i + 1}: " if len(parts) > 1 else ""
                raise ValueError(where + str(exc).strip().splitlines()[0]) from None
            if printed:
                echo("")
            echo(format_rows(columns, rows, fmt))
            printed += 1


def shell(settings: Settings) -> None:
    """A minimal REPL: SQL ending in ';', `.tables`, `.schema NAME`, `.quit`."""
    import duckdb

    try:
        import readline  # noqa: F401  (line editing and history where available)
    except ImportError:  # pragma: no cover
        pass
    print(f"opinion sql — {settings.warehouse} (read-only). End statements with ';'. .quit exits.")
    buffer: list[str] = []
    with connect_published(settings) as con:
        while True:
            try:
                line = input("opinion> " if not buffer else "   ...> ")
            except EOFError:
                print()
                return
            stripped = line.strip()
            if not buffer and stripped in (".quit", ".exit", r"\q"):
                return
            if not buffer and stripped == ".tables":
                stripped = (
                    "SELECT table_name, table_type FROM information_schema.tables ORDER BY 1;"
                )
            elif not buffer and stripped.startswith(".schema"):
                name = stripped.split(maxsplit=1)[1] if " " in stripped else ""
                rows = con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = ? ORDER BY ordinal_position",
                    [name],
                ).fetchall()
                print(format_rows(["column_name", "data_type"], rows))
                continue
            buffer.append(stripped)
            if not stripped.endswith(";"):
                continue
            query, buffer = "\n".join(buffer), []
            try:
                for statement in statements(con, query):
                    cur = con.execute(statement)
                    if cur.description:
                        print(format_rows([d[0] for d in cur.description], cur.fetchall()))
            except (duckdb.Error, ValueError) as exc:
                print("error:", str(exc).splitlines()[0])
