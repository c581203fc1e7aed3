"""Hostile-input regression tests: each case an attack or fault that once leaked, lost data,
hung or ended in a traceback. Fast: no model loads unless the case needs one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`opinion ARGS` in a fresh process, as a user runs it."""
    import os

    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "opinion", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess) -> str:
    """Non-zero exit, no traceback, exactly one non-empty line on stderr; returns it."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture()
def tiny_warehouse(tmp_path):
    """A published-warehouse file with one table holding formula-like text, a writer file
    next to it, and a secret file the SQL face must not reach."""
    import duckdb

    wh = tmp_path / "warehouse" / "opinion.duckdb"
    wh.parent.mkdir(parents=True)
    with duckdb.connect(str(wh)) as con:
        con.execute(
            "CREATE TABLE posts AS SELECT * FROM (VALUES "
            "(1, '=HYPERLINK(\"http://evil\",\"x\")'), (2, '+1'), (3, '-2'), (4, '@SUM(A1)'),"
            " (5, e'\\tTAB'), (6, e'\\rCR'), (7, 'plain')) t(id, text)"
        )
    with duckdb.connect(str(wh.with_name("opinion.writer.duckdb"))) as con:
        con.execute("CREATE TABLE w AS SELECT 42 AS answer")
    secret = tmp_path / "state" / "author_salt"
    secret.parent.mkdir()
    secret.write_text("SALT-DO-NOT-LEAK")
    return wh


@pytest.fixture(scope="session")
def ui_warehouse(tmp_path_factory) -> Path:
    """The dashboard tests' small UI-fixture warehouse (tests/serve/ui_fixture.py)."""
    from tests.serve.ui_fixture import build_ui_warehouse

    return build_ui_warehouse(tmp_path_factory.mktemp("ui") / "opinion.duckdb")


def assert_kept_and_gone(redactor, kept, gone) -> dict[str, str]:
    """Redact every text of `kept` and `gone` ((text, fragment) pairs): each kept fragment is
    still there, each gone one is not. Returns {text: redacted text}."""
    texts = [t for t, _ in kept] + [t for t, _ in gone]
    out = dict(zip(texts, redactor.redact_many(texts), strict=True))
    lost = {t: out[t] for t, fragment in kept if fragment not in out[t]}
    assert not lost, lost
    leaked = {t: out[t] for t, fragment in gone if fragment in out[t]}
    assert not leaked, leaked
    return out
