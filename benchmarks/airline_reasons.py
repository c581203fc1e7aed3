"""The airline pack's root cause against human complaint reasons: labels, dev split, curve.

`../shared/data/labels/airline_tweets.dev_labels.csv` gives the annotators' complaint reason
of the negative demo tweets to United and US Airways. `data/taxonomies/airline.reasons.csv`
maps each reason to the airline pack (a touchpoint or categories; "Can't Tell" names no cause
and is left out). A tweet is in the dev split when sha1(tweet_id) % 5 == 0, else in train.

    python benchmarks/airline_reasons.py labels OUT.csv      # the train labels, for
        opinion taxonomy fit --pack airline --labels OUT.csv  # (the shipped airline head)
    python benchmarks/airline_reasons.py dev OUT.csv         # the dev split, for
        opinion eval OUT.csv --task touchpoint --label-col label
    python benchmarks/airline_reasons.py curve [--json]      # learning curve on dev

The curve reads the demo corpus once (the weak labels of `opinion taxonomy fit`), then fits
the root-cause head with 0, 50, 100, 200, 500 and all train labels (the first n in sha1
order) and scores the primary touchpoint on dev, the mention-based dominant touchpoint beside
it. The four other airlines' labels are not in shared/: the product's bar is measured there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo" / "airline_tweets.csv"
REASONS = REPO / "data" / "taxonomies" / "airline.reasons.csv"
LABELS = REPO.parent / "shared" / "data" / "labels" / "airline_tweets.dev_labels.csv"
CURVE = (0, 50, 100, 200, 500, None)


def is_dev(tweet_id: str) -> bool:
    return int(hashlib.sha1(tweet_id.encode()).hexdigest(), 16) % 5 == 0


def labelled_rows(labels: Path = LABELS) -> list[dict]:
    """tweet_id, text, label (pack names), reason, split for every negative tweet whose
    reason maps to the pack."""
    with REASONS.open(encoding="utf-8") as fh:
        to_label = {r["reason"]: r["label"] for r in csv.DictReader(fh)}
    with DEMO.open(encoding="utf-8") as fh:
        texts = {r["tweet_id"]: r["text"] for r in csv.DictReader(fh)}
    out = []
    with labels.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            label = to_label.get(r["negativereason"] or "")
            if r["airline_sentiment"] != "negative" or not label:
                continue
            tid = r["tweet_id"]
            split = "dev" if is_dev(tid) else "train"
            out.append({"tweet_id": tid, "text": texts[tid], "label": label,
                        "reason": r["negativereason"], "split": split})  # fmt: skip
    return out


def write(rows: list[dict], out: str) -> None:
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["tweet_id", "text", "label", "reason"])
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r[k] for k in ("tweet_id", "text", "label", "reason")})


def curve(as_json: bool = False) -> dict:
    import torch

    from opinion.config import Settings
    from opinion.extract.stage import load_engine
    from opinion.nlp.categories import category_examples, load_head, read_corpus
    from opinion.nlp.rootcause import (
        dominant_touchpoint,
        fit_root_head,
        label_categories,
        settler,
        weak_label,
    )
    from opinion.nlp.taxonomy import mapper_for, taxonomy_for

    settings = Settings.from_env()
    tax = taxonomy_for(settings, "airline")
    rows = labelled_rows()
    train = sorted((r for r in rows if r["split"] == "train"),
                   key=lambda r: hashlib.sha1(r["tweet_id"].encode()).hexdigest())  # fmt: skip
    dev = [r for r in rows if r["split"] == "dev"]
    with DEMO.open(encoding="utf-8") as fh:
        texts = list(dict.fromkeys(r["text"] for r in csv.DictReader(fh)))
    started = time.time()
    engine = load_engine(settings)
    mapper = mapper_for(settings, "airline")
    settle = settler(tax)
    corpus = read_corpus(texts, engine, mapper, settle=settle)
    own_texts, owners = category_examples(tax)
    own = read_corpus(own_texts, engine, mapper, settle=settle)
    read_s = time.time() - started
    at = {t: i for i, t in enumerate(corpus.texts)}
    cats = set(tax.categories)
    sents = corpus.sentiments()
    weak = [weak_label(ms, s, cats) for ms, s in zip(corpus.mentions, sents, strict=True)]
    gold = [{tax.categories[c].touchpoint for c in label_categories(r["label"].split("|"), tax)}
            for r in dev]  # fmt: skip
    di = [at[r["text"]] for r in dev]
    # today's figure: the dominant touchpoint of the mentions, implicit ones from the
    # category head of the pack as shipped
    head = load_head(tax)
    dominant = []
    for i in di:
        ms = list(corpus.mentions[i])
        named = any(m["category"] not in (None, "other") for m in ms)
        if head and sents[i] in ("positive", "negative") and not named:
            for c, p in head.read(corpus.pooled[i : i + 1])[0]:
                ms.append({"touchpoint": tax.categories[c].touchpoint, "polarity": sents[i],
                           "confidence": p, "implicit": True})  # fmt: skip
        dominant.append(dominant_touchpoint(ms, sents[i]))
    mention_acc = sum(p in g for p, g in zip(dominant, gold, strict=True)) / len(dev)
    points = []
    for n in CURVE:
        chosen = train if n is None else train[:n]
        labelled = {}
        for r in chosen:
            labelled.setdefault(r["text"], set()).update(
                label_categories(r["label"].split("|"), tax)
            )
        allowed = [labelled.get(t) or w for t, w in zip(corpus.texts, weak, strict=True)]
        is_lab = [t in labelled for t in corpus.texts]
        t0 = time.time()
        root = fit_root_head(
            corpus.texts + own.texts,
            torch.cat([corpus.pooled, own.pooled]),
            corpus.mentions + own.mentions,
            sents + own.sentiments(),
            allowed + [{o} for o in owners],
            is_lab + [False] * len(owners),
            tax,
        )
        read = root.read([corpus.texts[i] for i in di], corpus.pooled[di],
                         [corpus.mentions[i] for i in di], [sents[i] for i in di])  # fmt: skip
        acc = sum(p[0] in g for p, g in zip(read, gold, strict=True)) / len(dev)
        points.append({"labels": len(chosen), "primary_accuracy": round(acc, 4),
                       "fit_s": round(time.time() - t0, 1)})  # fmt: skip
        if not as_json:
            print(f"{len(chosen):>5} labels: primary {acc:.4f}", flush=True)
    result = {"dev_posts": len(dev), "train_labels": len(train),
              "mention_accuracy": round(mention_acc, 4), "curve": points,
              "corpus_posts": len(texts), "read_s": round(read_s, 1),
              "taxonomy_version": tax.version}  # fmt: skip
    print(json.dumps(result) if as_json else f"dominant by mentions: {mention_acc:.4f}")
    return result


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("labels", "dev", "curve"):
        print(__doc__)
        return 2
    if argv[0] == "curve":
        curve("--json" in argv)
        return 0
    if len(argv) < 2:
        print(f"usage: {argv[0]} OUT.csv")
        return 2
    split = "train" if argv[0] == "labels" else "dev"
    rows = [r for r in labelled_rows() if r["split"] == split]
    write(rows, argv[1])
    print(f"{len(rows)} {split} rows → {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
