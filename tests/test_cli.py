"""Every command has --help, is documented in the README, and fails with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from opinion.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_has_help_and_is_documented(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"opinion {name}" in README, f"README does not document `opinion {name}`"


def test_bad_input_is_one_line(tmp_path):
    runner = CliRunner()
    cases = [
        ["collect", "nowhere"],
        ["analyze", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.jsonl")],
        ["sql", "SELECT 1", "--warehouse", str(tmp_path / "none.duckdb")],
    ]
    for args in cases:
        result = runner.invoke(main, args)
        assert result.exit_code != 0, args
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert lines and lines[-1].startswith("Error"), (args, result.output)
        assert "Traceback" not in result.output


def test_train_reads_the_shared_data_beside_the_checkout_by_default():
    """`opinion train` with no --data reads `../shared/data/absa` (and the SemEval tweets
    beside it) from the project root, wherever the command module sits in the package."""
    default = next(p.default for p in main.commands["train"].params if p.name == "data_dir")
    root = Path(__file__).resolve().parent.parent
    assert Path(default) == root.parent / "shared" / "data" / "absa"
