"""`opinion sql` and the dashboard's snapshot are read-only faces: no file outside the
warehouse can be read, no file written, no database attached, no extension installed."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from tests.hostile.conftest import assert_one_line_error, run_cli

ESCAPES = [
    "SELECT content FROM read_text('{salt}')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_blob('{salt}')",
    "SELECT * FROM glob('{root}/*')",
    "COPY (SELECT 1) TO '{wh}' (FORMAT csv)",
    "COPY (SELECT 1) TO '{root}/out.csv' (FORMAT csv)",
    "EXPORT DATABASE '{root}/export'",
    "ATTACH '{writer}' AS w",
    "ATTACH '{root}/new.duckdb' AS n",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "CREATE TABLE x AS SELECT 1",
]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("template", ESCAPES)
def test_sql_refuses_file_access_and_writes(tiny_warehouse, template):
    root = tiny_warehouse.parent.parent
    query = template.format(
        salt=root / "state" / "author_salt",
        wh=tiny_warehouse,
        writer=tiny_warehouse.with_name("opinion.writer.duckdb"),
        root=root,
    )
    before = {p: _digest(p) for p in root.rglob("*") if p.is_file()}
    from click.testing import CliRunner

    from opinion.cli import main

    result = CliRunner().invoke(main, ["sql", "--warehouse", str(tiny_warehouse), query])
    assert result.exit_code == 1, result.output
    assert "SALT-DO-NOT-LEAK" not in result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    after = {p: _digest(p) for p in root.rglob("*") if p.is_file()}
    assert after == before  # nothing written, nothing destroyed


def test_sql_empty_query_and_broken_snapshot_are_one_line(tiny_warehouse):
    line = assert_one_line_error(run_cli("sql", "--warehouse", str(tiny_warehouse), ""))
    assert "empty query" in line
    tiny_warehouse.write_bytes(b"not a duckdb file at all" * 100)
    line = assert_one_line_error(run_cli("sql", "--warehouse", str(tiny_warehouse), "SELECT 1"))
    assert "cannot open" in line


def test_sql_csv_neutralises_formulas(tiny_warehouse):
    from click.testing import CliRunner

    from opinion.cli import main

    query = "SELECT text, id FROM posts ORDER BY id"
    out = CliRunner().invoke(
        main, ["sql", "--warehouse", str(tiny_warehouse), "--format", "csv", query]
    )
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.output)))
    texts = [r[0] for r in rows[1:]]
    assert texts[-1] == "plain"
    for cell in texts[:-1]:
        assert cell.startswith("'"), cell
    assert [r[1] for r in rows[1:]] == [str(i) for i in range(1, 8)]  # numbers untouched


def test_dashboard_snapshot_cannot_reach_files(tiny_warehouse):
    import duckdb

    from opinion.serve.db import Snapshot

    salt = tiny_warehouse.parent.parent / "state" / "author_salt"
    snap = Snapshot(tiny_warehouse)
    try:
        with snap.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM posts").fetchall() == [(7,)]
            for query in (
                f"SELECT content FROM read_text('{salt}')",
                f"COPY (SELECT 1) TO '{tiny_warehouse}' (FORMAT csv)",
                f"ATTACH '{tiny_warehouse.with_name('opinion.writer.duckdb')}' AS w",
                "SET enable_external_access = true",
            ):
                with pytest.raises(duckdb.Error):
                    cur.execute(query).fetchall()
    finally:
        snap.close()
    assert tiny_warehouse.stat().st_size > 1000
