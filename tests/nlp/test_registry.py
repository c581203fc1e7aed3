"""The registry loads any Hugging Face model directory by configuration (offline, tiny model)."""

from __future__ import annotations

import pytest

from opinion.nlp.registry import ModelSpec, load_polarity, load_tagger


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory, tiny_bert):
    """A tiny BERT tagger and classifier saved to disk, with the packaged tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

    root = tmp_path_factory.mktemp("tiny")
    tok, common = tiny_bert
    tagger = BertForTokenClassification(
        BertConfig(
            **common,
            num_labels=3,
            id2label={0: "O", 1: "B-ASP", 2: "I-ASP"},
            label2id={"O": 0, "B-ASP": 1, "I-ASP": 2},
        )
    )
    polarity = BertForSequenceClassification(
        BertConfig(
            **common,
            num_labels=3,
            id2label={0: "Negative", 1: "Neutral", 2: "Positive"},
            label2id={"Negative": 0, "Neutral": 1, "Positive": 2},
        )
    )
    for name, model in (("tagger", tagger), ("polarity", polarity)):
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return root


def test_spec_parsing():
    assert ModelSpec.parse(None) == ModelSpec()
    assert ModelSpec.parse("embedded") == ModelSpec()
    spec = ModelSpec.parse("polarity=yangheng/deberta-v3-base-absa-v1.1")
    assert spec.tagger == "embedded" and spec.polarity_style == "plain"
    assert ModelSpec.parse("/models/x").tagger == "/models/x"
    with pytest.raises(ValueError, match="unknown model spec key"):
        ModelSpec.parse("tagger=a,colour=blue")
    with pytest.raises(ValueError, match="polarity_style"):
        ModelSpec(polarity_style="sideways")


def test_foreign_directories_load_and_run(tiny_models):
    spec = ModelSpec.parse(f"tagger={tiny_models / 'tagger'},polarity={tiny_models / 'polarity'}")
    tagger, polarity = load_tagger(spec), load_polarity(spec)
    assert tagger.version == "tagger" and polarity.version == "polarity"
    spans = tagger.extract(["the seat was broken", ""])
    assert len(spans) == 2
    from opinion.nlp.polarity import Target

    labels = polarity.classify([Target("the seat was broken", 4, 8)])
    assert labels[0][0] in ("negative", "neutral", "positive")
    # foreign label names ("Positive") are mapped onto ours by config.id2label
    assert set(polarity.index_to_class.values()) == {"negative", "neutral", "positive"}


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="embedded model file missing"):
        load_tagger(ModelSpec(embedded_dir=str(tmp_path)))
    with pytest.raises(OSError):
        load_polarity(ModelSpec(polarity=str(tmp_path / "nope"), polarity_style="plain"))


def test_int8_opt_in_and_bad_dtype(tiny_models, monkeypatch):
    from opinion.nlp.backbone import device_and_dtype
    from opinion.nlp.polarity import Target

    spec = ModelSpec.parse(f"polarity={tiny_models / 'polarity'}")
    try:
        monkeypatch.setenv("OPINION_DTYPE", "int8")
        device_and_dtype.cache_clear()
        polarity = load_polarity(spec)
        assert "quantized" in type(polarity.model.bert.encoder.layer[0].output.dense).__module__
        assert polarity.classify([Target("the seat was broken", 4, 8)])[0][0] in (
            "negative",
            "neutral",
            "positive",
        )
        monkeypatch.setenv("OPINION_DTYPE", "fp64")
        device_and_dtype.cache_clear()
        with pytest.raises(ValueError, match="OPINION_DTYPE must be"):
            device_and_dtype()
    finally:
        monkeypatch.delenv("OPINION_DTYPE")
        device_and_dtype.cache_clear()
