"""Inputs that once ended in a traceback or HTTP 500 (issue #28): `opinion sql` with no
statement, a value Python cannot hold, an unbounded query; a dashboard period at year 9999."""

from __future__ import annotations

import pytest

from .conftest import assert_one_line_error, run_cli


@pytest.mark.parametrize("query", [";;;", "/* nothing here */", ";", "  ;  -- c\n"])
def test_sql_without_a_statement_is_one_line(tiny_warehouse, query):
    line = assert_one_line_error(run_cli("sql", "--warehouse", str(tiny_warehouse), query))
    assert "no SQL statement" in line


@pytest.mark.parametrize(
    "query", ["SELECT INTERVAL 1999999999 MONTH AS i", "SELECT INTERVAL '2147483647 months'"]
)
def test_sql_value_python_cannot_hold_is_one_line(tiny_warehouse, query):
    line = assert_one_line_error(run_cli("sql", "--warehouse", str(tiny_warehouse), query))
    assert "CAST it to VARCHAR" in line


def test_sql_statement_timeout_is_one_line(tiny_warehouse):
    proc = run_cli(
        "sql",
        "--warehouse",
        str(tiny_warehouse),
        "SELECT count(*) FROM range(90000000000000) a",
        env={"OPINION_SQL_TIMEOUT": "1.5"},
    )
    line = assert_one_line_error(proc)
    assert "stopped after 1.5 s" in line and "OPINION_SQL_TIMEOUT" in line


def test_sql_memory_limit_is_applied_and_configurable(tiny_warehouse):
    q = "SELECT current_setting('memory_limit') AS m"
    default = run_cli("sql", "--warehouse", str(tiny_warehouse), "--format", "csv", q)
    small = run_cli(
        "sql", "--warehouse", str(tiny_warehouse), "--format", "csv", q,
        env={"OPINION_SQL_MEMORY": "300MB"},
    )  # fmt: skip
    assert default.returncode == 0 and small.returncode == 0, default.stderr + small.stderr
    assert "GiB" in default.stdout and float(default.stdout.split()[1]) < 2.0
    assert "MiB" in small.stdout and float(small.stdout.split()[1]) < 300


def test_sql_memory_limit_stops_a_hungry_query(tiny_warehouse):
    proc = run_cli(
        "sql",
        "--warehouse",
        str(tiny_warehouse),
        "SELECT list(x) FROM range(200000000) t(x)",
        env={"OPINION_SQL_MEMORY": "64MB", "OPINION_SQL_TIMEOUT": "60"},
    )
    line = assert_one_line_error(proc)
    assert "OPINION_SQL" in line


def test_sql_shell_survives_a_lone_semicolon(tiny_warehouse):
    import subprocess
    import sys

    from .conftest import REPO

    proc = subprocess.run(
        [sys.executable, "-m", "opinion", "sql", "--warehouse", str(tiny_warehouse)],
        input=";\n;;;\n/* c */;\nSELECT 41 + 1 AS answer;\n.quit\n",
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "42" in proc.stdout


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ("brand=United&from=9998-12-31", True),
        ("brand=United&from=9999-12-31", True),
        ("to=0001-01-03", True),
        ("from=0001-01-01&to=0001-01-09", True),
        ("brand=United&from=9999-12-30&to=9999-12-31", True),
        ("from=0001-01-02", False),  # the period holds all the data: no notice, no error
    ],
)
@pytest.mark.parametrize("page", ["/", "/map", "/competitors", "/trends", "/verbatims"])
def test_dashboard_period_at_the_ends_of_the_calendar_is_a_notice(
    ui_warehouse, page, query, notice
):
    from starlette.testclient import TestClient

    from opinion.config import Settings
    from opinion.serve.app import create_app

    client = TestClient(create_app(Settings.from_env(warehouse=ui_warehouse)))
    response = client.get(f"{page}?{query}")
    assert response.status_code == 200, response.text[-2000:]
    assert ("No data between" in response.text) is notice
