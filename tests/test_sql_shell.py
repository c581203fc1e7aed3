"""`opinion sql` (issue 26, finding 8): a query starting with a `-- comment` runs, every
statement of a script prints its result, long cells are cut visibly, and `--format parquet
--out FILE` writes the result. Runs the real CLI on a real DuckDB file."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from opinion.cli import main

LONG = "@united " + "x" * 100


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "opinion.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE posts (brand TEXT, text TEXT)")
        con.execute("INSERT INTO posts VALUES ('United', ?), ('Delta', 'ok')", [LONG])
    return path


def sql(warehouse, *args):
    return CliRunner().invoke(main, ["sql", "--warehouse", str(warehouse), *args])


def test_query_starting_with_a_comment_runs(warehouse):
    result = sql(warehouse, "-- brands, the docs' style\nSELECT count(*) AS n FROM posts")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].strip() == "n"
    assert result.output.splitlines()[2].strip() == "2"


def test_every_statement_prints_its_result(warehouse):
    result = sql(warehouse, "SELECT 1 AS first_one; -- then\nSELECT 2 AS second_one;")
    assert result.exit_code == 0, result.output
    assert "first_one" in result.output and "second_one" in result.output
    assert "(1 row)" in result.output.split("second_one")[0]


def test_only_comments_is_one_clear_line(warehouse):
    result = sql(warehouse, "-- nothing here")
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: no SQL statement")
    assert "Traceback" not in result.output


def test_a_failing_second_statement_names_it(warehouse):
    result = sql(warehouse, "SELECT 1; SELEC 2")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1  # parse errors come before any output


def test_table_cut_is_never_silent(warehouse):
    result = sql(warehouse, "SELECT text FROM posts ORDER BY brand DESC")
    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[2]
    assert row.rstrip().endswith("…") and len(row.rstrip()) == 60
    assert "1 value cut at 60 characters" in result.output
    whole = sql(warehouse, "SELECT text FROM posts ORDER BY brand DESC", "--format", "json")
    assert LONG in whole.output


def test_parquet_out_writes_the_result(warehouse, tmp_path):
    out = tmp_path / "posts.parquet"
    result = sql(
        warehouse, "--format", "parquet", "--out", str(out),
        "-- all posts\nSELECT brand, text FROM posts ORDER BY brand",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote 2 rows to {out}" in result.output
    table = pq.read_table(out)
    assert table.column("text").to_pylist() == ["ok", LONG]  # unchanged, no `'` prefix


def test_parquet_needs_out(warehouse):
    result = sql(warehouse, "--format", "parquet", "SELECT 1")
    assert result.exit_code == 1 and "needs --out" in result.output
