"""Deltas round-trip: base + stored delta reproduces the fine-tuned weights (int8 error only)."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification

from opinion.nlp.delta import apply_delta, save_delta


def _tiny(seed: int) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
    )
    return BertForSequenceClassification(cfg)


def test_delta_round_trip(tmp_path):
    base, tuned = _tiny(0), _tiny(0)
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if "embeddings" not in name:
                p.add_(torch.randn_like(p) * 0.01)
    size = save_delta(tuned, base, tmp_path / "d.safetensors", {"task": "t"})
    assert size > 0
    fresh = _tiny(0)
    meta = apply_delta(fresh, tmp_path / "d.safetensors")
    assert meta["task"] == "t"
    for (name, a), b in zip(tuned.state_dict().items(), fresh.state_dict().values(), strict=True):
        if a.is_floating_point():
            assert torch.allclose(a, b, atol=2e-4), name


def test_same_weights_give_the_same_bytes_whatever_the_metadata_order(tmp_path):
    """The model version is the file's sha1: a retrain with identical weights must not get a
    new version because safetensors wrote its metadata map in another order."""
    base, tuned = _tiny(0), _tiny(1)
    meta = {f"key{i}": f"value{i}" for i in range(8)}
    files = []
    for n, order in enumerate([list(meta), list(reversed(meta))] * 3):
        path = tmp_path / f"{n}.safetensors"
        save_delta(tuned, base, path, {k: meta[k] for k in order})
        files.append(path.read_bytes())
    assert all(f == files[0] for f in files)
    assert apply_delta(_tiny(0), tmp_path / "0.safetensors") == meta
