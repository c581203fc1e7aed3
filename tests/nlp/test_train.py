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
    assert set(runs[0]) == {"ate", "atsc", "atsc_vader_baseline", "post"}
    post = runs[0]["post"]["semeval17_4a.train.jsonl"]
    assert post["n"] == 24 and set(post["recall"]) <= {"negative", "neutral", "positive"}


@pytest.mark.skipif(not ABSA.is_dir(), reason="training data (../shared/data/absa) not present")
def test_trained_post_head_is_used_for_post_sentiment(tmp_path):
    """The saved file declares its post head; the loaded model reads posts with it, from the
    states its tagging pass kept (same numbers as a fresh encoding)."""
    from safetensors import safe_open

    from opinion.nlp.registry import ModelSpec, load_polarity

    out = tmp_path / "m"
    args = ["train", "--data", str(ABSA), "--out", str(out), "--limit", "16", "--epochs", "1"]
    result = CliRunner().invoke(main, [*args, "--post-weight", "0.5"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["config"]["post_weight"] == "0.5"
    with safe_open(str(out / "joint.safetensors"), framework="pt") as fh:
        assert "post-sentiment" in fh.metadata()["task"]
        assert "full::classifier.post_out.weight" in list(fh.keys())
    model = load_polarity(ModelSpec(embedded_dir=str(out)))
    assert model.post_head
    texts = ["@united worst flight ever", "love this airline"]
    fresh = model.post_probabilities(texts)
    model.extract(texts)
    reused = model.post_probabilities(texts)
    for a, b in zip(fresh, reused, strict=True):
        assert abs(a["negative"] - b["negative"]) < 0.02
        assert abs(sum(a.values()) - 1.0) < 1e-3


def test_train_missing_post_data_is_one_line(tmp_path):
    from opinion.nlp.train import TrainConfig

    with pytest.raises(FileNotFoundError, match="post-sentiment training file not found"):
        TrainConfig(ABSA if ABSA.is_dir() else tmp_path, tmp_path, post_data=tmp_path / "x.jsonl")


def test_train_bad_data_folder(tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "training data folder not found" in result.output
