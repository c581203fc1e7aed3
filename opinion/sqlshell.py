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
import os
import threading
from collections.abc import Callable

from opinion.config import Settings

#: DuckDB settings of every read connection the product opens (here and `serve.db`): no file
#: access beyond the database already open, and no way to turn that back on from SQL.
READ_ONLY_CONFIG = {"enable_external_access": False, "lock_configuration": True}

#: Cells starting with one of these are formulas to Excel/LibreOffice/Sheets (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: An analyst's query may not run longer or use more memory than this (`OPINION_SQL_TIMEOUT`
#: in seconds, `OPINION_SQL_MEMORY` as DuckDB writes sizes): a recursive CTE or `range(1e13)`
#: would otherwise run on and take 80 % of the machine's RAM.
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY = "2GB"


def sql_limits() -> tuple[float, str]:
    """(statement timeout in seconds, memory limit) from the environment, else the defaults."""
    raw = os.environ.get("OPINION_SQL_TIMEOUT", "")
    try:
        timeout = float(raw) if raw.strip() else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"OPINION_SQL_TIMEOUT must be a number of seconds, got {raw!r}") from None
    if not timeout > 0:
        raise ValueError(f"OPINION_SQL_TIMEOUT must be positive, got {raw!r}")
    return timeout, os.environ.get("OPINION_SQL_MEMORY", "").strip() or DEFAULT_MEMORY


def connect_published(settings: Settings, memory_limit: str | None = None):
    import duckdb

    if not settings.warehouse.exists():
        raise FileNotFoundError(
            f"no published warehouse at {settings.warehouse} (run `opinion demo` or `opinion load`)"
        )
    config = dict(READ_ONLY_CONFIG)
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        return duckdb.connect(str(settings.warehouse), read_only=True, config=config)
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
        raise ValueError("no SQL statement in the query (only comments or ';'?)")
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


def execute(con, query: str, timeout: float) -> tuple[list[str], list[tuple]] | None:
    """(columns, rows) of `query`, None when it has no result (`;;;`, a lone comment); any
    failure is a one-line ValueError. The query is interrupted after `timeout` seconds."""
    import duckdb

    timer = threading.Timer(timeout, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        cur = con.execute(query)
        if cur is None or cur.description is None:
            return None
        return [d[0] for d in cur.description], cur.fetchall()
    except duckdb.InterruptException:
        raise ValueError(
            f"query stopped after {timeout:g} s (OPINION_SQL_TIMEOUT sets the limit)"
        ) from None
    except duckdb.OutOfMemoryException as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"{first} (OPINION_SQL_MEMORY sets the limit)") from None
    except duckdb.Error as exc:
        raise ValueError(str(exc).strip().splitlines()[0]) from None
    except (OverflowError, ValueError) as exc:  # a value Python cannot hold (INTERVAL 2e9 MONTH)
        raise ValueError(
            f"a result value cannot be shown ({exc}); CAST it to VARCHAR to see it"
        ) from None
    finally:
        timer.cancel()


def run_query(
    settings: Settings,
    query: str,
    fmt: str = "table",
    echo: Callable[[str], None] = print,
    out: str | None = None,
) -> None:
    """Run every statement of `query` (each under the time limit) and print each result (a
    blank line between them); `fmt="parquet"` writes the last result to `out` instead."""
    if fmt == "parquet" and not out:
        raise ValueError("--format parquet needs --out FILE")
    if out and fmt != "parquet":
        raise ValueError("--out is for --format parquet (the other formats print)")
    if not query.strip():
        raise ValueError("empty query (give a SQL statement, or no QUERY for the shell)")
    timeout, memory = sql_limits()
    with connect_published(settings, memory) as con:
        parts = statements(con, query)
        printed = 0
        for i, statement in enumerate(parts):
            where = f"statement {i + 1}: " if len(parts) > 1 else ""
            try:
                if fmt == "parquet" and i == len(parts) - 1:
                    n = write_parquet(con, statement, out)
                    if n is None:
                        raise ValueError("the last statement returns no result to write")
                    echo(f"wrote {n} row{'s' if n != 1 else ''} to {out}")
                    continue
                result = execute(con, statement, timeout)
            except ValueError as exc:
                raise ValueError(where + str(exc)) from None
            if result is None or fmt == "parquet":
                continue
            if printed:
                echo("")
            echo(format_rows(*result, fmt))
            printed += 1


def shell(settings: Settings) -> None:
    """A minimal REPL: SQL ending in ';', `.tables`, `.schema NAME`, `.quit`."""
    try:
        import readline  # noqa: F401  (line editing and history where available)
    except ImportError:  # pragma: no cover
        pass
    print(f"opinion sql — {settings.warehouse} (read-only). End statements with ';'. .quit exits.")
    buffer: list[str] = []
    timeout, memory = sql_limits()
    with connect_published(settings, memory) as con:
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
                    result = execute(con, statement, timeout)
                    if result is not None:
                        print(format_rows(*result))
            except ValueError as exc:
                print("error:", exc)
