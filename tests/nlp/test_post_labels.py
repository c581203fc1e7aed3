"""`opinion train --post-labels`: a CX team's own labels refit the post head, in a model
folder that loads through OPINION_MODEL; the encoder stays bit for bit; bad input is one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opinion.cli import main

ROOT = Path(__file__).resolve().parents[2]
ALIAS = {"negative": "neg", "neutral": "neu", "positive": "pos"}


def _labelled_demo_tweets() -> list[dict]:
    """The 150 demo tweets a developer labelled (`benchmarks/airline_post_labels.csv`) with
    their text: a real labelled slice of an airline's channel."""
    with (ROOT / "benchmarks" / "airline_post_labels.csv").open(newline="") as fh:
        gold = {r["tweet_id"]: r["label"] for r in csv.DictReader(fh)}
    rows: dict[str, dict] = {}
    with (ROOT / "data" / "demo" / "airline_tweets.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["tweet_id"] in gold:  # the corpus repeats a few tweets: one row each
                label = ALIAS[gold[r["tweet_id"]]]
                rows.setdefault(r["tweet_id"], {"tweet": r["text"], "sentiment": label})
    return list(rows.values())


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model folder trained from 120 labelled tweets (the other 30 are its dev file)."""
    tmp = tmp_path_factory.mktemp("post_labels")
    rows = _labelled_demo_tweets()
    train = _write(tmp / "mine.csv", rows[:120])
    dev = _write(tmp / "dev.csv", rows[120:])
    out = tmp / "model"
    args = ["train", "--post-labels", str(train), "--post-dev", str(dev), "--out", str(out)]
    args += ["--text-col", "tweet", "--label-col", "sentiment", "--post-data", "none"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "the head learns your labels alone" in result.output  # --post-data none is said
    return out, rows


def test_trained_folder_loads_through_opinion_model_and_predicts(trained, monkeypatch):
    from opinion.nlp.engine import AbsaEngine
    from opinion.nlp.registry import EMBEDDED_DIR, model_version

    out, rows = trained
    metrics = json.loads((out / "metrics.json").read_text())["post_labels"]
    assert metrics["labels"] == {"n": 120, **_counts(rows[:120])}
    assert metrics["dev_metrics"]["dev_labels"]["n"] == 30
    spec = f"embedded_dir={out}"
    monkeypatch.setenv("OPINION_MODEL", spec)
    engine = AbsaEngine.load(spec)
    assert engine.version == model_version(spec) != model_version(f"embedded_dir={EMBEDDED_DIR}")
    texts = [r["tweet"] for r in rows]
    results = engine.analyze(texts)
    assert all(r.sentiment in ("negative", "neutral", "positive") for r in results)
    assert engine.polarity.post_head
    probs = engine.polarity.post_probabilities(texts[:120])
    assert all(abs(sum(p.values()) - 1) < 1e-3 for p in probs)
    # it learnt its labels: the head alone agrees with most of what it was taught
    gold = [{"neg": "negative", "neu": "neutral", "pos": "positive"}[r["sentiment"]] for r in rows]
    agree = sum(max(p, key=p.get) == g for p, g in zip(probs, gold, strict=False)) / 120
    assert agree >= 0.7


def _counts(rows: list[dict]) -> dict:
    full = {v: k for k, v in ALIAS.items()}
    labels = [full[r["sentiment"]] for r in rows]
    return {c: labels.count(c) for c in ("negative", "neutral", "positive")}


def test_only_the_post_head_changes(trained):
    """The encoder delta and the aspect heads are the base model's, bit for bit."""
    from safetensors import safe_open

    from opinion.nlp.registry import EMBEDDED_DIR, JOINT_FILE

    out, _ = trained
    with (
        safe_open(str(EMBEDDED_DIR / JOINT_FILE), framework="pt") as base,
        safe_open(str(out / JOINT_FILE), framework="pt") as new,
    ):
        assert set(base.keys()) == set(new.keys())
        changed = {k for k in base.keys() if not base.get_tensor(k).equal(new.get_tensor(k))}  # noqa: SIM118 (a safetensors handle is not iterable)
        assert "post_labels" in new.metadata() and "post-sentiment" in new.metadata()["task"]
    assert changed == {
        "full::classifier.post_hidden.weight",
        "full::classifier.post_hidden.bias",
        "full::classifier.post_out.weight",
        "full::classifier.post_out.bias",
    }


def test_pack_heads_stay_valid_over_a_refit_post_head(trained, caplog):
    """The category and root-cause heads read encoder states only: a refit post head keeps
    the shipped airline head valid (no "refit" warning); a head fitted on another encoder
    still warns."""
    import logging

    from opinion.nlp.categories import CategoryHead, encoder_version
    from opinion.nlp.registry import EMBEDDED_DIR, load_models

    out, _ = trained
    refit, _ = load_models(f"embedded_dir={out}")
    shipped, _ = load_models(f"embedded_dir={EMBEDDED_DIR}")
    assert refit.version != shipped.version
    assert encoder_version(refit) == encoder_version(shipped)
    head = CategoryHead.load(ROOT / "data" / "taxonomies" / "airline.head.safetensors")
    fitted_on, now = head.fitted_on(refit)
    assert fitted_on == now == encoder_version(shipped)
    texts = ["@united lost my bag again", "@united great crew today"]
    refit.extract(texts)
    with caplog.at_level(logging.WARNING, logger="opinion.nlp.categories"):
        head.annotate(texts, [_Result(), _Result()], refit)
        assert "refit" not in caplog.text
        other = CategoryHead(head.categories, head.weight, head.bias, {"encoder_version": "x@1"})
        other.annotate(texts, [_Result(), _Result()], refit)
        assert "refit with `opinion taxonomy fit`" in caplog.text


class _Result:
    categories: list = []
    pooled = None


def _run(*args: str):
    return CliRunner().invoke(main, ["train", *args])


def test_unknown_label_is_one_line(tmp_path):
    path = _write(tmp_path / "bad.csv", [{"text": "@united ok", "label": "meh"}])
    result = _run("--post-labels", str(path), "--out", str(tmp_path / "m"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: bad.csv row 1: unknown label 'meh' in 'label' "
        "(known: negative/neutral/positive, neg/neu/pos, -1/0/1)"
    ]
    assert not (tmp_path / "m").exists()


def test_missing_column_is_one_line(tmp_path):
    path = _write(tmp_path / "bad.csv", [{"body": "@united ok", "label": "positive"}])
    result = _run("--post-labels", str(path), "--out", str(tmp_path / "m"))
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "no column 'text' in bad.csv" in result.output


def test_missing_file_and_tweets_are_one_line(tmp_path):
    result = _run("--post-labels", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "m"))
    assert result.exit_code == 1 and "input file not found" in result.output
    path = _write(tmp_path / "ok.csv", [{"text": "@united ok", "label": "positive"}])
    result = _run("--post-labels", str(path), "--post-data", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 1 and "post-sentiment tweets not found" in result.output


def test_labels_read_from_jsonl_and_parquet_with_numeric_aliases(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from opinion.analyze import sentiment_labels

    rows = [{"text": "late again", "label": -1}, {"text": "thanks!", "label": 1}]
    rows.append({"text": "what time is boarding?", "label": 0})
    rows.append({"text": "no label here", "label": None})
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parquet = tmp_path / "l.parquet"
    pq.write_table(pa.Table.from_pylist([{**r, "label": r["label"]} for r in rows]), parquet)
    for path in (jsonl, parquet):
        texts, labels, skipped = sentiment_labels(path, strict=True)
        assert labels == ["negative", "positive", "neutral"] and skipped == 1, path
