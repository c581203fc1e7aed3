"""benchmarks/sql_examples.py: every documented query runs (and is timed) on a loaded warehouse;
a broken example fails with its file and line."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from opinion.warehouse import load_lake

from .conftest import REPO, make_lake

SCRIPT = REPO / "benchmarks" / "sql_examples.py"


def _bench():
    spec = importlib.util.spec_from_file_location("sql_examples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def warehouse(settings):
    make_lake(settings.lake_dir, days=2, per_day=4)
    load_lake(settings)
    return settings.warehouse


def test_every_documented_example_runs_and_is_timed(warehouse):
    bench = _bench()
    found, skipped = bench.examples()
    names = [ex.name for ex in found]
    assert len(names) >= 10 and not skipped
    assert any(name.startswith("docs/warehouse.md:") for name in names)
    assert any("#2" in name for name in names)  # a block of two statements is two examples
    res = bench.bench_examples(warehouse, n=2)
    assert list(res) == names
    for t in res.values():
        assert 0 < t["p50"] <= t["p95"] and t["rows"] >= 0


def test_only_read_only_statements_are_run_and_a_broken_one_fails(tmp_path, warehouse):
    bench = _bench()
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("```sql\nSELECT count(*) FROM posts;\n```\n")
    (tmp_path / "docs" / "a.md").write_text(
        "text\n\n```sql\nCREATE TABLE x AS SELECT 1;\nWITH a AS (SELECT 1 AS n) SELECT n FROM a;"
        "\n```\n\n```python\nSELECT nothing\n```\n"
    )
    found, skipped = bench.examples(tmp_path)
    assert [ex.name for ex in found] == ["README.md:1", "docs/a.md:3#2"]
    assert skipped == ["docs/a.md:3#1 (CREATE)"]
    assert bench.bench_examples(warehouse, n=1, repo=tmp_path)["README.md:1"]["rows"] == 1
    (tmp_path / "docs" / "b.md").write_text("```sql\nSELECT no_such_column FROM posts;\n```\n")
    with pytest.raises(RuntimeError, match=r"^docs/b\.md:1: .*no_such_column"):
        bench.bench_examples(warehouse, n=1, repo=tmp_path)


def test_script_prints_a_table_and_one_json_line(warehouse):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--warehouse", str(warehouse), "-n", "1"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["n"] == 1 and last["examples"]
    assert "p95 ms" in out.stdout.splitlines()[0]
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--warehouse", str(warehouse.parent / "none.duckdb")],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0
    assert "no warehouse file" in bad.stderr
