"""The embedded encoder on ONNX Runtime (`opinion/nlp/onnx_encoder.py`): a real export of the
real model into a temporary cache, its predictions against torch's on real demo tweets, the
cache (reused, rebuilt when corrupt) and the `OPINION_RUNTIME` knob."""

from __future__ import annotations

import csv
import logging

import pytest

from tests.conftest import DEMO_CSV

pytest.importorskip("onnxruntime")

TWEETS = 200


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def models(cache):
    """(torch, onnx fp32, onnx int8) joint models on the shipped weights, exported once."""
    from opinion.nlp import registry

    mp = pytest.MonkeyPatch()
    mp.setenv("OPINION_CACHE_DIR", str(cache))
    registry._embedded_joint.cache_clear()
    try:
        yield {
            name: registry._embedded_joint(str(registry.EMBEDDED_DIR), name)
            for name in ("torch", "onnx", "onnx-int8")
        }
    finally:
        registry._embedded_joint.cache_clear()
        mp.undo()


@pytest.fixture(scope="module")
def tweets():
    with DEMO_CSV.open(newline="", encoding="utf-8") as fh:
        return [row["text"] for row in csv.DictReader(fh)][:TWEETS]


def _readings(model, tweets):
    from opinion.nlp.polarity import Target

    spans = model.extract(tweets)
    targets = [Target(t, 0, len(t)) for t in tweets]  # the whole post, read by the span head
    return (
        [[(s.start, s.end) for s in found] for found in spans],
        model.probabilities(targets),
        model.post_probabilities(tweets),
    )


def _top(probs: dict) -> str:
    return max(probs, key=probs.__getitem__)


@pytest.mark.parametrize("runtime", ["onnx", "onnx-int8"])
def test_onnx_agrees_with_torch(models, tweets, runtime):
    model = models[runtime]
    assert type(model.model.encoder).__name__ == "OrtEncoder"
    assert model.model.encoder.runtime == runtime
    assert model.version == models["torch"].version  # the runtime does not change the version
    spans_t, span_probs_t, post_t = _readings(models["torch"], tweets)
    spans_o, span_probs_o, post_o = _readings(model, tweets)
    # spans: the share of the spans either found that both found (exact offsets)
    both = sum(len(set(a) & set(b)) for a, b in zip(spans_t, spans_o, strict=True))
    either = sum(len(set(a) | set(b)) for a, b in zip(spans_t, spans_o, strict=True))
    same_spans = both / max(1, either)
    same_span_label = sum(
        _top(a) == _top(b) for a, b in zip(span_probs_t, span_probs_o, strict=True)
    ) / len(tweets)
    same_post = sum(_top(a) == _top(b) for a, b in zip(post_t, post_o, strict=True)) / len(tweets)
    assert same_span_label >= 0.95 and same_post >= 0.95
    # span boundaries are what int8 moves most (a low-margin B/I/O token): 85% of the spans
    # either finds are found by both on these tweets, while ATE F1 on the dev splits moves by
    # 0.2 point (MODEL_CARD.md, "Runtime"): different spans, not fewer right ones
    assert same_spans >= (0.95 if runtime == "onnx" else 0.8)
    diffs = sorted(
        abs(a[k] - b[k])
        for a, b in zip(post_t + span_probs_t, post_o + span_probs_o, strict=True)
        for k in a
    )
    assert diffs[len(diffs) // 2] < 0.02  # the typical probability moves by a hair
    assert diffs[-1] < 0.25


def test_encoder_states_match_torch_fp32(models):
    """The fp32 export computes what the module computes (padding and all)."""
    import torch

    from opinion.nlp.backbone import embedded_encoder_dir
    from opinion.nlp.delta import apply_delta
    from opinion.nlp.joint import new_model
    from opinion.nlp.registry import EMBEDDED_DIR, JOINT_FILE

    reference = new_model(embedded_encoder_dir())
    apply_delta(reference, EMBEDDED_DIR / JOINT_FILE)
    reference.eval()
    from opinion.nlp.onnx_encoder import ATTENTION_CELLS

    tok = models["onnx"].tokenizer
    short = ["the seat was broken", "crew were lovely but the flight was three hours late"]
    long = [" ".join(["the flight was late and the seat was broken"] * (k + 20)) for k in range(6)]
    for texts in (short, long):  # the long batch runs in slices (ATTENTION_CELLS)
        batch = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if texts is long:
            assert len(texts) * ids.shape[1] ** 2 > ATTENTION_CELLS
        with torch.inference_mode():
            want = reference.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        got = models["onnx"].model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert (got - want)[mask.bool()].abs().max() < 1e-3


def test_cache_is_reused_and_a_corrupt_file_rebuilt(models, cache, monkeypatch, caplog):
    from opinion.nlp import onnx_encoder, registry

    monkeypatch.setenv("OPINION_CACHE_DIR", str(cache))
    files = sorted(cache.rglob("*.onnx"))
    assert [f.name.rsplit("-", 1)[-1] for f in files] == ["fp32.onnx", "int8.onnx"]
    assert not [f for f in cache.rglob("*") if f.name.startswith(".")]  # no temporaries left
    int8 = next(f for f in files if f.name.endswith("int8.onnx"))
    before = int8.stat()
    registry._embedded_joint.cache_clear()
    reloaded = registry._embedded_joint(str(registry.EMBEDDED_DIR), "onnx-int8")
    after = int8.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert reloaded.model.encoder.path == int8

    int8.write_bytes(int8.read_bytes()[:1000])  # a truncated file: ORT cannot load it
    registry._embedded_joint.cache_clear()
    with caplog.at_level(logging.WARNING, logger=onnx_encoder.__name__):
        rebuilt = registry._embedded_joint(str(registry.EMBEDDED_DIR), "onnx-int8")
    assert "exporting it again" in caplog.text
    assert int8.stat().st_size == before.st_size
    assert rebuilt.extract(["the seat was broken"])[0]
    registry._embedded_joint.cache_clear()


def test_runtime_knob(monkeypatch, cache):
    from opinion.nlp import registry
    from opinion.nlp.onnx_encoder import DEFAULT_RUNTIME, runtime_choice

    monkeypatch.delenv("OPINION_RUNTIME", raising=False)
    assert runtime_choice() == DEFAULT_RUNTIME == "onnx-int8"
    monkeypatch.setenv("OPINION_RUNTIME", " ONNX ")
    assert runtime_choice() == "onnx"
    monkeypatch.setenv("OPINION_RUNTIME", "tensorrt")
    with pytest.raises(ValueError, match=r"^OPINION_RUNTIME must be torch, onnx or onnx-int8") as e:
        runtime_choice()
    assert "\n" not in str(e.value)

    monkeypatch.setenv("OPINION_RUNTIME", "torch")
    monkeypatch.setenv("OPINION_CACHE_DIR", str(cache / "unused"))
    registry._embedded_joint.cache_clear()
    try:
        model = registry._embedded_joint(str(registry.EMBEDDED_DIR))
        assert type(model.model.encoder).__name__ == "BertModel"
        assert not (cache / "unused").exists()
    finally:
        registry._embedded_joint.cache_clear()


def test_bad_runtime_is_one_line_cli_error(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from opinion.cli import main

    data = tmp_path / "one.jsonl"
    row = '{"text": "the seat was broken", "aspects": [{"term": "seat", "from": 4, "to": 8, '
    data.write_text(row + '"polarity": "negative"}]}\n')
    monkeypatch.setenv("OPINION_RUNTIME", "gpu-please")
    result = CliRunner().invoke(main, ["eval", str(data)])
    assert result.exit_code != 0
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "OPINION_RUNTIME must be torch, onnx or onnx-int8" in lines[0]


def test_failed_export_falls_back_to_torch(monkeypatch, cache, caplog):
    from opinion.nlp import onnx_encoder, registry

    def broken(*_args, **_kwargs):
        raise RuntimeError("exporter exploded\nsecond line")

    monkeypatch.setenv("OPINION_CACHE_DIR", str(cache / "broken"))
    monkeypatch.setattr(onnx_encoder, "export_graph", broken)
    registry._embedded_joint.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=onnx_encoder.__name__):
            model = registry._embedded_joint(str(registry.EMBEDDED_DIR), "onnx-int8")
        assert type(model.model.encoder).__name__ == "BertModel"
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "using torch" in warnings[0].getMessage()
        assert "\n" not in warnings[0].getMessage()
        assert model.extract(["the seat was broken"])[0]
    finally:
        registry._embedded_joint.cache_clear()
