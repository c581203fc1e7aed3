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
    widths = [min(60, max([len(c)] + [len(r[i]) for r in cells])) for i, c in enumerate(columns)]
    line = " | ".join(c.ljust(w)[:w] for c, w in zip(columns, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(v.ljust(w)[:w] for v, w in zip(r, widths, strict=True)) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def run_query(
    settings: Settings, query: str, fmt: str = "table", echo: Callable[[str], None] = print
) -> None:
    import duckdb

    if not query.strip():
        raise ValueError("empty query (give a SQL statement, or no QUERY for the shell)")
    with connect_published(settings) as con:
        try:
            cur = con.execute(query)
            if cur.description is None:
                return
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
        except duckdb.Error as exc:
            raise ValueError(str(exc).strip().splitlines()[0]) from None
        echo(format_rows(columns, rows, fmt))


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
                cur = con.execute(query)
                if cur.description:
                    print(format_rows([d[0] for d in cur.description], cur.fetchall()))
            except duckdb.Error as exc:
                print("error:", str(exc).splitlines()[0])
