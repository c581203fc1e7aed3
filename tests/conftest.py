"""Shared fixtures: real models, real DuckDB files under tmp_path, no mocks of our own parts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_CSV = REPO / "data" / "demo" / "airline_tweets.csv"

os.environ.setdefault("OPINION_AUTHOR_SALT", "test-salt-not-secret")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_bert():
    """(tokenizer, BertConfig arguments) for 1-layer BERTs on the packaged vocabulary: how a
    test saves a Hugging Face model folder of its own in a second."""
    from transformers import AutoTokenizer

    from opinion.nlp.backbone import embedded_encoder_dir

    tok = AutoTokenizer.from_pretrained(embedded_encoder_dir())
    config = dict(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    return tok, config


@pytest.fixture(scope="session")
def engine():
    """The embedded ABSA engine, loaded once for the whole test session."""
    from opinion.nlp.engine import AbsaEngine

    return AbsaEngine.load("embedded")


@pytest.fixture()
def settings(tmp_path):
    """Settings pointing every path into tmp_path (the bundled data stays read-only)."""
    from opinion.config import Settings

    return Settings.from_env(
        lake_dir=tmp_path / "lake",
        warehouse=tmp_path / "warehouse" / "opinion.duckdb",
        state_dir=tmp_path / "state",
    )


def write_demo_slice(path: Path, rows: int, start: int = 0) -> Path:
    """The header plus `rows` data rows of the demo corpus (a real slice, not made-up data)."""
    import csv

    with DEMO_CSV.open(newline="", encoding="utf-8") as src, path.open("w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for i, row in enumerate(reader):
            if i >= start + rows:
                break
            if i >= start:
                writer.writerow(row)
    return path


@pytest.fixture(scope="session")
def demo_slice():
    """`demo_slice(path, rows, start=0)` writes a real slice of the demo corpus."""
    return write_demo_slice
