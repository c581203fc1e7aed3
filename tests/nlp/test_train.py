"""`opinion train` end to end on a small slice: files written, metrics measured, seeded runs
identical (the committed model is reproducible)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opinion.cli import main

ABSA = Path(__file__).resolve().parents[3] / "shared" / "data" / "absa"


@pytest.mark.skipif(not ABSA.is_dir(), reason="training data (../shared/data/absa) not present")
def test_train_is_seeded_and_reproducible(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = CliRunner().invoke(
            main,
            ["train", "--data", str(ABSA), "--out", str(out), "--limit", "24", "--epochs", "1"],
        )
        assert result.exit_code == 0, result.output
        assert (out / "joint.safetensors").stat().st_size > 1_000_000
        runs.append(json.loads((out / "metrics.json").read_text())["dev_metrics"])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"ate", "atsc", "atsc_vader_baseline"}


def test_train_bad_data_folder(tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "training data folder not found" in result.output
