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
