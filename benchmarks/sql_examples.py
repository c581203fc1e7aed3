"""The documented SQL examples, timed on a published warehouse.

    PYTHONPATH=. python benchmarks/sql_examples.py --warehouse data/warehouse/opinion.duckdb

Takes every read-only statement (SELECT, or WITH … SELECT: DuckDB's statement type SELECT) of
every ```sql block in README.md and docs/*.md, runs each `-n` times (default 10) on the
warehouse opened read-only, fetching every row, and prints p50/p95 milliseconds per example,
then one JSON line with the same numbers. Statements that are not queries (none today) are
skipped and named. `bench_examples()` is what benchmarks/warehouse_scale.py calls.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import duckdb

REPO = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```sql[ \t]*\n(.*?)^```", re.S | re.M)


class Example(NamedTuple):
    """One statement of a documented ```sql block: `docs/warehouse.md:430` (its line), with
    `#2` for the second statement of a block."""

    name: str
    sql: str


def doc_files(repo: Path = REPO) -> list[Path]:
    return [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]


def examples(repo: Path = REPO) -> tuple[list[Example], list[str]]:
    """(the read-only examples, names of the statements skipped as not read-only)."""
    found, skipped = [], []
    for path in doc_files(repo):
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        for block in _BLOCK.finditer(text):
            line = text.count("\n", 0, block.start()) + 1
            where = f"{path.relative_to(repo)}:{line}"
            statements = duckdb.extract_statements(block.group(1))
            for i, st in enumerate(statements, 1):
                name = where if len(statements) == 1 else f"{where}#{i}"
                sql = st.query.strip().rstrip(";").strip()
                if st.type == duckdb.StatementType.SELECT:
                    found.append(Example(name, sql))
                else:
                    skipped.append(f"{name} ({st.type.name})")
    return found, skipped


def percentiles(times: list[float]) -> dict[str, float]:
    """p50 and p95 (nearest rank) of timings in ms, rounded to 0.1 (shared by the benchmarks)."""
    times = sorted(times)
    return {
        "p50": round(statistics.median(times), 1),
        "p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
    }


def bench_examples(
    warehouse: Path, n: int = 10, *, repo: Path = REPO
) -> dict[str, dict[str, float]]:
    """p50/p95 ms (and rows) of every documented read-only example on `warehouse`, opened
    read-only. A failing example raises RuntimeError naming it: a broken example is a bug."""
    found, _ = examples(repo)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")  # as the dashboard
        con.execute("SET enable_progress_bar = false")
        out = {}
        for ex in found:
            try:
                rows = len(con.execute(ex.sql).fetchall())  # warm: first read of its columns
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    con.execute(ex.sql).fetchall()
                    times.append((time.perf_counter() - t0) * 1000)
            except duckdb.Error as e:
                raise RuntimeError(f"{ex.name}: {e}") from e
            out[ex.name] = {**percentiles(times), "rows": rows}
        return out
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a published warehouse file")
    ap.add_argument("-n", type=int, default=10, help="timed runs per example (default 10)")
    args = ap.parse_args()
    if not args.warehouse.is_file():
        sys.exit(f"error: no warehouse file at {args.warehouse}")
    if args.n < 1:
        sys.exit("error: -n must be at least 1")
    found, skipped = examples()
    try:
        res = bench_examples(args.warehouse, args.n)
    except (RuntimeError, duckdb.Error) as e:
        sys.exit(f"error: {e}".splitlines()[0])
    first = {ex.name: " ".join(ex.sql.split())[:60] for ex in found}
    print(f"{'p50 ms':>8} {'p95 ms':>8} {'rows':>6}  example")
    for name, t in res.items():
        print(f"{t['p50']:8.1f} {t['p95']:8.1f} {t['rows']:6d}  {name}  {first[name]}")
    for name in skipped:
        print(f"skipped (not read-only): {name}")
    print(json.dumps({"warehouse": str(args.warehouse), "n": args.n, "examples": res}))


if __name__ == "__main__":
    main()
