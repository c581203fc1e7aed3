"""Post-level sentiment of `opinion analyze` output against labelled demo tweets.

The labels (`airline_post_labels.csv`) are 150 tweets of a seeded random sample of the demo
corpus, labelled negative / neutral / positive by a project developer from the airline's point
of view. They are a development check, not the held-out human labels the project is judged on.

    opinion analyze data/demo/airline_tweets.csv --id-col tweet_id --out /tmp/an.jsonl
    python benchmarks/post_sentiment.py /tmp/an.jsonl

Prints accuracy, macro-F1 and the confusion counts; the last line is JSON.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

LABELS = Path(__file__).with_name("airline_post_labels.csv")
CLASSES = ("negative", "neutral", "positive")


def score(analyzed: Path, labels: Path = LABELS) -> dict:
    with labels.open(newline="") as fh:
        gold = {row["tweet_id"]: row["label"] for row in csv.DictReader(fh)}
    pred: dict[str, str | None] = {}
    with analyzed.open() as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["id"]) in gold:
                pred.setdefault(str(row["id"]), row.get("sentiment"))
    missing = sorted(set(gold) - set(pred))
    if missing:
        raise SystemExit(f"{len(missing)} labelled ids missing from {analyzed}, e.g. {missing[0]}")
    pairs = [(gold[i], pred[i]) for i in gold]
    accuracy = sum(g == p for g, p in pairs) / len(pairs)
    f1s = []
    for c in CLASSES:
        tp = sum(g == p == c for g, p in pairs)
        fp = sum(p == c != g for g, p in pairs)
        fn = sum(g == c != p for g, p in pairs)
        f1s.append(2 * tp / max(1, 2 * tp + fp + fn))
    confusion = Counter(f"{g}->{p}" for g, p in pairs)
    return {
        "n": len(pairs),
        "accuracy": round(accuracy, 3),
        "macro_f1": round(sum(f1s) / len(f1s), 3),
        "confusion": dict(sorted(confusion.items())),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python benchmarks/post_sentiment.py ANALYZED.jsonl")
    print(json.dumps(score(Path(sys.argv[1]))))
