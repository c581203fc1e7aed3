"""`opinion train --long-labels`: rated long posts teach the head that reads a review from its
sentences; it loads with its model, changes the model's version, and a head fitted on another
model file is set aside with a warning (the rule reads long posts again)."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.nlp.long_head import (
    FEATURES,
    LONG_HEAD_FILE,
    LongHead,
    fit_long_head,
    load_long_head,
    long_features,
)

ROOT = Path(__file__).resolve().parents[2]
RATING = {"negative": 2, "neutral": 5, "positive": 9}


def _long_posts() -> list[dict]:
    """Long posts of real labelled tweets (`benchmarks/airline_post_labels.csv`): four tweets
    of one label, one per line, so the engine reads them sentence by sentence; the rating is
    that label's bucket on a 1-10 scale."""
    with (ROOT / "benchmarks" / "airline_post_labels.csv").open(newline="") as fh:
        gold = {r["tweet_id"]: r["label"] for r in csv.DictReader(fh)}
    by_label: dict[str, list[str]] = {}
    seen = set()
    with (ROOT / "data" / "demo" / "airline_tweets.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["tweet_id"] in gold and r["tweet_id"] not in seen:
                seen.add(r["tweet_id"])
                by_label.setdefault(gold[r["tweet_id"]], []).append(r["text"].strip())
    posts = []
    for label, texts in sorted(by_label.items()):
        for k in range(0, len(texts) - 3, 2):  # overlapping windows: more posts per label
            text = "\n".join(
                t if t.endswith((".", "!", "?")) else t + "." for t in texts[k : k + 4]
            )
            if len(text) > 400:
                posts.append({"review": text, "score": RATING[label], "label": label})
    return posts


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("long_head")
    posts = _long_posts()
    train, dev = posts[::4] + posts[1::4] + posts[2::4], posts[3::4]
    for name, rows in (("train.csv", train), ("dev.csv", dev)):
        with (tmp / name).open("w", newline="") as fh:
            writer = csv.DictWriter(fh, ["review", "score", "label"])
            writer.writeheader()
            writer.writerows(rows)
    out = tmp / "model"
    args = ["train", "--long-labels", str(tmp / "train.csv"), "--post-dev", str(tmp / "dev.csv")]
    args += ["--text-col", "review", "--label-col", "score", "--rating-buckets", "4,6"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, train, dev


def test_the_head_is_written_with_its_model_and_read_by_the_engine(trained):
    from opinion.nlp.engine import AbsaEngine
    from opinion.nlp.registry import (
        EMBEDDED_DIR,
        JOINT_FILE,
        file_digest,
        file_version,
        model_version,
    )

    out, train, dev = trained
    body = json.loads((out / LONG_HEAD_FILE).read_text())
    assert body["fitted_on"] == file_digest(out)
    report = json.loads((out / "metrics.json").read_text())["long_labels"]
    assert report["long_posts"] == len(train) and report["short_posts_skipped"] == 0
    assert report["labels"] == {c: sum(p["label"] == c for p in train) for c in RATING}
    assert report["dev"]["n"] == len(dev)
    # the model file is the embedded one, copied; the head makes it another version
    assert (out / JOINT_FILE).read_bytes() == (EMBEDDED_DIR / JOINT_FILE).read_bytes()
    spec = f"embedded_dir={out}"
    assert model_version(spec) != file_version(out)
    engine = AbsaEngine.load(spec)
    assert engine.version == model_version(spec)
    head = engine.polarity.long_head
    assert isinstance(head, LongHead)
    texts = [p["review"] for p in dev]
    readings = engine.long_readings(texts + ["@united thanks, great crew today!"])
    assert readings[-1] is None and all(r and len(r) >= 2 for r in readings[:-1])
    results = engine.analyze(texts)
    for res, reading in zip(results, readings, strict=False):
        probs = head.probabilities(reading)
        assert res.sentiment == max(probs, key=probs.get)
        assert res.sentiment_confidence == round(probs[res.sentiment], 4)
    # the head learnt its labels: it agrees with most of what it was taught
    taught = engine.long_readings([p["review"] for p in train])
    agree = [
        max(p := head.probabilities(r), key=p.get) == t["label"]
        for r, t in zip(taught, train, strict=True)
    ]
    assert sum(agree) / len(agree) >= 0.7


def test_without_a_head_the_rule_reads_long_posts(trained, tmp_path):
    from opinion.nlp.engine import AbsaEngine, long_post_rule
    from opinion.nlp.registry import JOINT_FILE, file_version, model_version

    out, _, dev = trained
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy2(out / JOINT_FILE, plain / JOINT_FILE)
    spec = f"embedded_dir={plain}"
    assert model_version(spec) == file_version(plain)
    engine = AbsaEngine.load(spec)
    assert engine.polarity.long_head is None
    texts = [p["review"] for p in dev]
    expected = [long_post_rule(r)[0] for r in engine.long_readings(texts)]
    assert [r.sentiment for r in engine.analyze(texts)] == expected


def test_a_head_fitted_on_another_model_file_is_set_aside(trained, tmp_path, caplog):
    """A copy of the folder keeps its head; a refit post head (another model file) sets it
    aside, with a warning, and the command that refit it says so."""
    from opinion.nlp.registry import file_digest, file_version, model_version

    out, train, _ = trained
    copy = tmp_path / "other"
    shutil.copytree(out, copy)
    assert load_long_head(copy, file_digest(copy)) is not None
    assert model_version(f"embedded_dir={copy}") != file_version(copy)
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows((p["review"], p["label"]) for p in train)
    args = ["train", "--post-labels", str(labels), "--post-data", "none", "--epochs", "1"]
    result = CliRunner().invoke(main, [*args, "--from", str(copy), "--out", str(copy)])
    assert result.exit_code == 0, result.output
    assert "opinion train --long-labels" in result.output
    with caplog.at_level(logging.WARNING):
        assert load_long_head(copy, file_digest(copy)) is None
    assert "was fitted on" in caplog.text and "opinion train --long-labels" in caplog.text
    assert model_version(f"embedded_dir={copy}") == file_version(copy)
    (copy / LONG_HEAD_FILE).write_text("{not json")
    assert load_long_head(copy, file_digest(copy)) is None


def test_the_version_follows_the_weights_not_the_report(trained, tmp_path):
    from opinion.nlp.registry import model_version

    out, _, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)

    def version_hash(folder: Path) -> str:
        return model_version(f"embedded_dir={folder}").split("@")[1]

    body = json.loads((copy / LONG_HEAD_FILE).read_text())
    body["report"]["seconds"] = -1.0  # a refit with the same weights keeps the version
    (copy / LONG_HEAD_FILE).write_text(json.dumps(body))
    assert version_hash(copy) == version_hash(out)
    body["bias"][0] += 0.5  # other weights: another version
    (copy / LONG_HEAD_FILE).write_text(json.dumps(body))
    assert version_hash(copy) != version_hash(out)


def test_features_and_fit_are_what_they_say():
    neg = {"negative": 0.8, "neutral": 0.15, "positive": 0.05}
    pos = {"negative": 0.1, "neutral": 0.2, "positive": 0.7}
    x = long_features([neg, pos, neg])
    assert len(x) == len(FEATURES)
    named = dict(zip(FEATURES, x, strict=True))
    assert named["mean_negative"] == pytest.approx((2 * 0.8 + 0.1 + 2 * 0.8) / 5)
    assert named["first_positive"] == 0.05 and named["last_negative"] == 0.8
    assert named["lean_min"] == pytest.approx(-0.75) and named["lean_max"] == pytest.approx(0.6)
    assert named["share_negative"] == pytest.approx(2 / 3)
    # separable readings are learnt, and the same data gives the same head
    neu = {"negative": 0.2, "neutral": 0.6, "positive": 0.2}
    posts = [[neg, neg], [neg, neu, neg], [pos, pos], [pos, neu, pos], [neu, neu], [neu, neu, neu]]
    labels = ["negative", "negative", "positive", "positive", "neutral", "neutral"]
    head = fit_long_head(posts * 3, labels * 3, "m@1")
    assert [max(p := head.probabilities(r), key=p.get) for r in posts] == labels
    assert fit_long_head(posts * 3, labels * 3, "m@1") == head


def test_bad_input_is_one_line(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("text,label\ngreat flight,positive\nlate again,negative\n")
    runner = CliRunner()
    cases = {
        "too few to learn from": ["--out", str(tmp_path / "m")],
        "two runs": ["--post-labels", str(short)],
    }
    for said, extra in cases.items():
        result = runner.invoke(main, ["train", "--long-labels", str(short), *extra])
        assert result.exit_code != 0, extra
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert lines[-1].startswith("Error") and said in lines[-1], result.output
        assert "Traceback" not in result.output
    result = runner.invoke(main, ["train", "--long-labels", str(tmp_path / "missing.csv")])
    assert result.exit_code != 0 and "not found" in result.output
