"""The in-domain sentiment labels as train / dev files for `opinion train --post-labels`.

    python benchmarks/post_labels.py OUT_DIR [--labels FILE] [--tweets FILE] [--reviews FILE]

Writes, from the human labels of tweets to United and US Airways
(`../shared/data/labels/airline_tweets.dev_labels.csv`, joined on `tweet_id` with the demo
corpus for the text):

* `airline_train.csv` (`tweet_id, airline, text, label`): the 80% the shipped post head learns
  from, in a seeded shuffled order (so its first N rows are a random N: the learning curve's
  `airline_train_200.csv` and `airline_train_1000.csv` are written beside it);
* `airline_dev.csv`: the other 20%, chosen by a hash of the tweet id, never trained on;
* `reviews_dev.csv` (`review_id, airline, reading, rating`): 50 reviews of each airline whose
  aspect ratings are in `airline_reviews.dev_ratings.csv` (the review dev airlines), seeded by a
  hash of the review id; `reading` is the title, a blank line and the review, as the pipeline
  reads a review (`opinion.extract.reading.reading_text`);
* `reviews_train.csv` (same columns): the next reviews of each of those airlines in that
  order, from the 101st to the 600th (the 51st to the 100th chose the rule's balance point,
  `engine.LONG_LEAN_CENTER`), for `opinion train --long-labels` (the long-post head).

The other four airlines of the tweet corpus and the other seven review airlines are the
held-out bar: nothing here reads their labels.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEV_SHARE = 0.2
CURVE = (200, 1000)
REVIEWS_PER_AIRLINE = 50
REVIEWS_TRAIN = (100, 600)  # positions per airline, in hash order, of the long-head labels


def unit_hash(key: str, salt: str = "") -> float:
    """A stable number in [0, 1) for a key (md5, as `opinion train` splits its dev sets)."""
    return int(hashlib.md5((salt + key).encode()).hexdigest()[:8], 16) / 0x100000000


def _write(path: Path, rows: list[dict], fields: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows({k: r[k] for k in fields} for r in rows)


def split_tweets(labels: Path, tweets: Path, out: Path) -> dict:
    csv.field_size_limit(1 << 30)
    with tweets.open(newline="", encoding="utf-8") as fh:
        text = {r["tweet_id"]: r["text"] for r in csv.DictReader(fh)}
    rows = []
    with labels.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["tweet_id"] not in text:
                raise SystemExit(f"tweet {r['tweet_id']} of {labels.name} not in {tweets.name}")
            rows.append(
                {
                    "tweet_id": r["tweet_id"],
                    "airline": r["airline"],
                    "text": text[r["tweet_id"]],
                    "label": r["airline_sentiment"],
                }
            )
    dev = [r for r in rows if unit_hash(r["tweet_id"]) < DEV_SHARE]
    train = sorted(
        (r for r in rows if unit_hash(r["tweet_id"]) >= DEV_SHARE),
        key=lambda r: unit_hash(r["tweet_id"], "order"),
    )
    fields = ["tweet_id", "airline", "text", "label"]
    _write(out / "airline_train.csv", train, fields)
    _write(out / "airline_dev.csv", dev, fields)
    for n in CURVE:
        _write(out / f"airline_train_{n}.csv", train[:n], fields)
    return {
        "train": dict(Counter(r["label"] for r in train)),
        "dev": dict(Counter(r["label"] for r in dev)),
    }


def sample_reviews(reviews: Path, ratings: Path, out: Path) -> dict:
    from opinion.extract.reading import reading_text

    csv.field_size_limit(1 << 30)
    with ratings.open(newline="", encoding="utf-8") as fh:
        dev_airlines = {r["airline"] for r in csv.DictReader(fh)}
    by_airline: dict[str, list[dict]] = {}
    with reviews.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["airline"] in dev_airlines and r["rating"].strip():
                reading, _ = reading_text(r)
                by_airline.setdefault(r["airline"], []).append(
                    {**r, "reading": reading, "order": unit_hash(r["review_id"], "reviews")}
                )
    rows, train = [], []
    low, high = REVIEWS_TRAIN
    for airline in sorted(by_airline):
        ordered = sorted(by_airline[airline], key=lambda r: r["order"])
        rows += ordered[:REVIEWS_PER_AIRLINE]
        train += ordered[low:high]
    fields = ["review_id", "airline", "reading", "rating"]
    _write(out / "reviews_dev.csv", rows, fields)
    _write(out / "reviews_train.csv", train, fields)
    return {"reviews": len(rows), "reviews_train": len(train), "airlines": sorted(by_airline)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--labels", type=Path, default=SHARED / "labels" / "airline_tweets.dev_labels.csv"
    )
    parser.add_argument(
        "--tweets", type=Path, default=ROOT / "data" / "demo" / "airline_tweets.csv"
    )
    parser.add_argument("--reviews", type=Path, default=SHARED / "reviews" / "airline_reviews.csv")
    parser.add_argument(
        "--ratings", type=Path, default=SHARED / "reviews" / "airline_reviews.dev_ratings.csv"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(split_tweets(args.labels, args.tweets, args.out))
    if args.reviews.exists() and args.ratings.exists():
        print(sample_reviews(args.reviews, args.ratings, args.out))


if __name__ == "__main__":
    main()
