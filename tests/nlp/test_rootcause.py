"""The root-cause head (opinion/nlp/rootcause.py): labels, evidence, fitting with your labels,
the labelling queue, and the primary columns a pipeline run leaves in the warehouse. Real
models, real DuckDB, real demo tweets."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.config import REPO_ROOT
from opinion.nlp.rootcause import (
    evidence_row,
    friction_categories,
    label_categories,
    settle_friction,
    spread_out,
    weak_label,
)
from opinion.nlp.taxonomy import taxonomy_for


@pytest.fixture()
def airline():
    return taxonomy_for(domain="airline")


def test_labels_are_touchpoints_or_categories(airline):
    assert label_categories(["lost_delayed_bags"], airline) == {"lost_delayed_bags"}
    tp = label_categories(["punctuality"], airline)
    assert {"delays", "cancellations", "tarmac_diversions", "connections"} == tp
    assert label_categories(["Customer Service", "seat"], airline) >= {"agents", "seat"}
    assert label_categories(["other"], airline) == set()


def test_an_unknown_label_is_one_line_listing_the_packs_names(airline):
    with pytest.raises(ValueError) as err:
        label_categories(["weather"], airline, where="l.csv: ")
    message = str(err.value)
    assert "\n" not in message and message.startswith("l.csv: unknown label 'weather'")
    assert "punctuality" in message and "lost_delayed_bags" in message


def test_evidence_weak_label_and_friction(airline):
    index = {c: k for k, c in enumerate(airline.categories)}
    ms = [
        {"category": "lost_delayed_bags", "polarity": "neutral", "confidence": 0.8},
        {"category": "phone_hold", "polarity": "negative", "confidence": 0.5},
        {"category": "phone_hold", "polarity": "negative", "confidence": 0.5},
        {"category": "seat", "polarity": "negative", "confidence": 0.9, "implicit": True},
    ]
    row = evidence_row(ms, index)
    assert len(row) == 3 * len(index)
    assert row[3 * index["phone_hold"]] == pytest.approx(0.75)  # noisy-or of two 0.5
    assert row[3 * index["lost_delayed_bags"] + 1] == pytest.approx(0.8)
    assert row[3 * index["seat"]] == 0.0  # implicit mentions are not evidence
    cats = set(airline.categories)
    assert weak_label(ms, "negative", cats) == {"phone_hold"}
    assert weak_label(ms, "positive", cats) == {"lost_delayed_bags", "phone_hold"}
    prone = friction_categories(airline)
    assert {"lost_delayed_bags", "delays", "phone_hold"} <= prone and "seat" not in prone
    assert settle_friction([dict(m) for m in ms], "positive", prone) == 0
    settled = [dict(m) for m in ms]
    assert settle_friction(settled, "negative", prone) == 1
    assert settled[0]["polarity"] == "negative"  # "where is my bag?" in a complaint
    assert weak_label(settled, "negative", cats) == {"lost_delayed_bags", "phone_hold"}


def test_spread_out_takes_the_least_sure_and_no_near_copies():
    import torch

    base = torch.eye(6)
    pooled = torch.cat([base[0:1], base[0:1] * 1.001, base[1:2], base[2:3], base[3:4]])
    conf = [0.2, 0.21, 0.3, 0.9, 0.4]
    picked = spread_out(pooled, conf, 3)
    assert picked[0] == 0 and 1 not in picked  # row 1 is a near-copy of row 0
    assert picked == sorted(picked, key=lambda i: conf[i])
    assert len(spread_out(pooled, conf, 10)) == 4


# ------------------------------------------------------------ with the models


@pytest.fixture()
def teach(tmp_path: Path, monkeypatch, demo_slice):
    """A lake of 240 real demo tweets, and the airline pack copied without its head into a
    data folder of the test's own (fits never touch the checkout)."""
    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data" / "taxonomies", data / "taxonomies")
    (data / "taxonomies" / "airline.head.safetensors").unlink()
    monkeypatch.setenv("OPINION_DATA", str(data))
    monkeypatch.setenv("OPINION_BRANDS", str(REPO_ROOT / "data" / "brands" / "airlines.yaml"))
    monkeypatch.setenv("OPINION_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("OPINION_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("OPINION_STATE", str(tmp_path / "state"))
    src = demo_slice(tmp_path / "slice.csv", 240, start=3000)
    run(["collect", "airline-demo", "--path", str(src)])
    return tmp_path


def run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.output


def fit_report(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def primaries(texts: list[str]) -> list[str]:
    """The primary touchpoint the pack's current head gives each text."""
    from opinion.config import Settings
    from opinion.extract.stage import load_engine
    from opinion.nlp.evaluate_touchpoint import post_mentions
    from opinion.nlp.taxonomy import mapper_for

    settings = Settings.from_env()
    read = post_mentions(
        texts, load_engine(settings), mapper_for(settings), taxonomy=taxonomy_for(settings)
    )
    return [p[0] if p else "other" for *_, p in read]


def test_fit_with_labels_moves_predictions_and_the_queue_goes_back_in(teach: Path):
    first = fit_report(run(["taxonomy", "fit", "--pack", "airline"]))
    assert first["root_cause"]["labelled_examples"] == 0
    queue = teach / "queue.csv"
    out = json.loads(run(["label", "--pack", "airline", "--n", "30", "--out", str(queue)]))
    assert out["rows"] == 30
    with queue.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["post_id", "text", "guess", "guess_touchpoint", "confidence", "label"]
    assert len({r["text"] for r in rows}) == 30 and all(r["label"] == "" for r in rows)
    confidences = [float(r["confidence"]) for r in rows]
    assert confidences == sorted(confidences)
    taxonomy = taxonomy_for(domain="airline")
    assert all(taxonomy.categories[r["guess"]].touchpoint == r["guess_touchpoint"] for r in rows)
    # a person labels the queue: here, every post is "refunds", a cause the model rarely
    # gives these tweets, so the labels must move the predictions
    texts = [r["text"] for r in rows]
    before = primaries(texts)
    for r in rows:
        r["label"] = "refunds"
    with queue.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    second = fit_report(run(["taxonomy", "fit", "--pack", "airline", "--labels", str(queue)]))
    assert second["root_cause"]["labelled_examples"] == 30
    assert second["taxonomy_version"] != first["taxonomy_version"]
    after = primaries(texts)
    assert sum(p == "refunds" for p in after) >= sum(p == "refunds" for p in before) + 15


def test_fit_refuses_an_unknown_label_in_one_line(teach: Path):
    bad = teach / "bad.csv"
    bad.write_text("text,label\n@united where is my bag,weather\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["taxonomy", "fit", "--pack", "airline", "--labels", str(bad)]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("Error: ") and "unknown label 'weather'" in lines[0]
    )
    assert "customer_service" in lines[0] and "lost_delayed_bags" in lines[0]


def test_a_pipeline_run_fills_the_primary_columns(teach: Path):
    shipped = REPO_ROOT / "data" / "taxonomies" / "airline.head.safetensors"
    shutil.copy(shipped, teach / "data" / "taxonomies" / shipped.name)  # the shipped head
    run(["extract"])
    run(["load"])
    con = duckdb.connect(str(teach / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT sentiment, primary_touchpoint, primary_category, primary_confidence "
            "FROM posts WHERE is_english"
        ).fetchall()
    finally:
        con.close()
    taxonomy = taxonomy_for(domain="airline")
    negative = [r for r in rows if r[0] == "negative"]
    assert negative and all(r[1] for r in negative)
    for _, tp, cat, conf in rows:
        if tp is not None:
            assert taxonomy.categories[cat].touchpoint == tp
            assert 0.0 < conf <= 1.0


def test_no_brand_of_the_brand_list_is_an_aspect(settings):
    from opinion.clean.brands import load_brands
    from opinion.extract.stage import load_engine

    text = "Flew Delta Air Lines then United Airlines, @AmericanAir next: the seat was broken"
    spans = [text[s:e] for s, e in load_brands(settings).spans(text)]
    assert spans == ["Delta Air Lines", "United Airlines", "@AmericanAir"]
    engine = load_engine(settings)
    terms = [a.term.lower() for a in engine.analyze([text])[0].aspects]
    assert "seat" in terms
    assert not any(b in t for t in terms for b in ("delta", "united", "american"))
