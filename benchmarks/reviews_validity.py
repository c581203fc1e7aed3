"""Validity check: does the sentiment read from review text track the reviewers' own stars?

    python benchmarks/reviews_validity.py --reviews FILE --ratings FILE [--sample N] --json

FILE (reviews): a Skytrax-style export (`review_id, airline, published, title, text, rating,
recommended, ...`, overall rating 1-10), e.g. `../shared/data/reviews/airline_reviews.csv`.
FILE (ratings): the reviewers' 1-5 star ratings of five aspects keyed by `review_id`
(`seat_comfort, food_beverages, ground_service, cabin_staff_service, value_for_money`; empty =
not rated), e.g. `../shared/data/reviews/airline_reviews.dev_ratings.csv`.

What it does, as a user would: the rated reviews (a seeded random `--sample` of them) go
through the real pipeline — `collect_file` (mapping `AIRLINE_REVIEWS`, `rating_scale=1-10`) →
`extract` (the configured model, with the airline taxonomy's term spotting) → `load` — into a
temporary lake and warehouse, and the loaded mentions are compared with the stars:

* **Aspect → mentions** (`ASPECTS` below; edit it there): each rated aspect names the taxonomy
  *categories* that carry it and, as a fallback, the *touchpoints*. When any of the named
  categories exists in the taxonomy pack in use, the aspect's mentions are those in these
  categories; otherwise those at the touchpoints. With the airline pack (`airline-4`): seat →
  `seat`, food → `food_drink`, cabin staff → `flight_attendants`, value → `fares_fees`,
  ground service → check-in, gate, boarding and bag categories.
* **Per-review score** of an aspect: the review's mentions of it, each `s·c` (polarity s = +1
  positive / 0 neutral / −1 negative, c = the mention's confidence), averaged together with
  `SHRINK` pseudo-mentions carrying the review's own overall reading (its post sentiment ×
  confidence): `(Σ s·c + SHRINK·overall) / (n + SHRINK)` in −1..1. One neutral "the seat" is
  then read with what the review says overall instead of as a flat 0 (empirical-Bayes
  shrinkage; `VALIDITY_SHRINK=0` gives the mentions alone). A review that does not mention the
  aspect, or did not rate it, is left out of that aspect's correlation (`VALIDITY_IMPLICIT=1`
  scores it by its overall reading instead).
* `pearson`: Pearson r between the per-review score and the review's star rating of the aspect.
* `spearman_airlines`: per airline, the mean per-review score (over its reviews that mention
  the aspect) against the mean star rating (over its reviews that rate it); Spearman rank
  correlation of the two across airlines (average ranks for ties).

The last line of output is ONE JSON object: `{aspect: {"pearson", "spearman_airlines",
"reviews", "airlines", "rated", "mapped_by", "categories"}}` (`reviews`: reviews in the Pearson,
`rated`: sampled reviews rating the aspect, `mapped_by`: `category` or `touchpoint`); null when
fewer than 3 points (or no variance). A summary (sample size, mentions, seconds) goes to stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

#: Rated aspect → the taxonomy categories that carry it (any of these names, when the pack has
#: it) and the touchpoints to fall back on. Edit here to change what counts for an aspect.
ASPECTS: dict[str, dict[str, list[str]]] = {
    "seat_comfort": {
        "categories": ["seat", "seats", "seat_comfort", "seating", "legroom", "comfort"],
        "touchpoints": ["inflight"],
    },
    "food_beverages": {
        "categories": ["food_drink", "food_and_drink", "food_beverage", "food", "catering"],
        "touchpoints": ["inflight"],
    },
    "ground_service": {
        # the airline pack's ground categories: check-in lines and counters, the gate, boarding,
        # bags (Skytrax's "ground service" is the airport part of the trip)
        "categories": [
            "lines_security",
            "kiosks_counters",
            "gate_airport",
            "boarding_process",
            "lost_delayed_bags",
            "damaged_bags",
            "check_in",
            "ground_service",
            "airport",
        ],
        "touchpoints": ["check_in", "boarding", "baggage"],
    },
    "cabin_staff_service": {
        "categories": ["flight_attendants", "cabin_crew", "crew", "cabin_staff"],
        "touchpoints": ["cabin_crew"],
    },
    "value_for_money": {
        "categories": ["fares_fees", "fares_value", "fares", "value", "price", "pricing", "fees"],
        "touchpoints": ["booking", "refunds"],
    },
}
POLARITY = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson r; None for fewer than 3 points or no variance."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman rank correlation (Pearson of the average ranks)."""
    return pearson(ranks(xs), ranks(ys)) if len(xs) >= 3 else None


def read_ratings(path: Path) -> dict[str, dict[str, float]]:
    """review_id → {aspect: stars} (aspects the reviewer rated)."""
    out: dict[str, dict[str, float]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [a for a in ASPECTS if a not in (reader.fieldnames or [])]
        if "review_id" not in (reader.fieldnames or []) or missing:
            raise ValueError(f"{path.name}: needs review_id and {', '.join(ASPECTS)} columns")
        for row in reader:
            stars = {a: float(row[a]) for a in ASPECTS if (row.get(a) or "").strip()}
            if stars:
                out[row["review_id"]] = stars
    return out


def sample_reviews(path: Path, rated: set[str], n: int | None, seed: int, out: Path) -> int:
    """Write the rated reviews (a seeded sample of `n`) to `out`; returns how many."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = [r for r in reader if r.get("review_id") in rated]
    if n is not None and n < len(rows):
        rows = random.Random(seed).sample(rows, n)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def aspect_filters(category_names: set[str]) -> dict[str, tuple[str, list[str]]]:
    """aspect → ("category", names present in the pack) or ("touchpoint", touchpoints)."""
    out = {}
    for aspect, spec in ASPECTS.items():
        present = [c for c in spec["categories"] if c in category_names]
        out[aspect] = ("category", present) if present else ("touchpoint", spec["touchpoints"])
    return out


#: How strongly a review's own overall reading pulls its per-category score: the score is
#: `(Σ s·c + SHRINK · overall) / (n + SHRINK)` over the review's n mentions of the category
#: (s = ±1/0, c = confidence) — a review that says one thing about its seat is read with what
#: it says overall (empirical-Bayes shrinkage toward the review's own sentiment); 0 = mentions
#: only. `IMPLICIT`: a review that names no mention of the category gets its overall reading
#: (the implicit reading issue 13 gives every opinionated post), else it is left out.
SHRINK = float(os.environ.get("VALIDITY_SHRINK", "1.0"))
IMPLICIT = os.environ.get("VALIDITY_IMPLICIT", "0") == "1"


def review_scores(con, filters) -> dict[str, dict[str, tuple[str, float]]]:
    """aspect → {review_id: (airline, score)} from the warehouse (see SHRINK)."""
    posts = con.execute(
        "SELECT native_id, brand, sentiment, sentiment_confidence FROM posts"
    ).fetchall()
    airline_of = {rid: brand or "" for rid, brand, _, _ in posts}
    overall = {
        rid: POLARITY.get(sentiment, 0.0) * float(conf or 0.0) for rid, _, sentiment, conf in posts
    }
    rows = con.execute(
        "SELECT p.native_id, m.category, m.touchpoint, m.polarity, m.confidence "
        "FROM mentions m JOIN posts p USING (post_id)"
    ).fetchall()
    sums: dict[str, dict[str, list[float]]] = {a: {} for a in filters}
    for rid, category, touchpoint, polarity, confidence in rows:
        for aspect, (kind, names) in filters.items():
            if (category if kind == "category" else touchpoint) in names:
                acc = sums[aspect].setdefault(rid, [0.0, 0.0])
                acc[0] += float(confidence or 0.0) * POLARITY.get(polarity, 0.0)
                acc[1] += 1.0
    out: dict[str, dict[str, tuple[str, float]]] = {}
    for aspect, per in sums.items():
        if IMPLICIT:
            per = {rid: per.get(rid, [0.0, 0.0]) for rid in overall}
        out[aspect] = {
            rid: (
                airline_of[rid],
                (s + SHRINK * overall[rid]) / (n + SHRINK) if n + SHRINK else 0.0,
            )
            for rid, (s, n) in per.items()
        }
    return out


def correlate(scores, ratings, airline_of_review) -> dict[str, dict]:
    """The per-aspect result object (see the module docstring)."""
    result = {}
    for aspect, per_review in scores.items():
        pairs = [
            (s, ratings[r][aspect])
            for r, (_, s) in per_review.items()
            if aspect in ratings.get(r, {})
        ]
        text_by_airline: dict[str, list[float]] = {}
        for airline, s in per_review.values():
            text_by_airline.setdefault(airline, []).append(s)
        stars_by_airline: dict[str, list[float]] = {}
        for rid, stars in ratings.items():
            if aspect in stars and rid in airline_of_review:
                stars_by_airline.setdefault(airline_of_review[rid], []).append(stars[aspect])
        airlines = sorted(set(text_by_airline) & set(stars_by_airline))
        text_means = [sum(text_by_airline[a]) / len(text_by_airline[a]) for a in airlines]
        star_means = [sum(stars_by_airline[a]) / len(stars_by_airline[a]) for a in airlines]
        r = pearson([p[0] for p in pairs], [p[1] for p in pairs])
        rho = spearman(text_means, star_means)
        result[aspect] = {
            "pearson": None if r is None else round(r, 4),
            "spearman_airlines": None if rho is None else round(rho, 4),
            "reviews": len(pairs),
            "rated": sum(1 for s in ratings.values() if aspect in s),
            "airlines": len(airlines),
        }
    return result


def run(reviews: Path, ratings_path: Path, sample: int | None, seed: int, model: str | None):
    """The whole check in a temporary lake + warehouse; returns (result, summary)."""
    from opinion.collect.partitions import collect_file
    from opinion.config import Settings
    from opinion.extract.stage import extract, load_engine
    from opinion.nlp.taxonomy import taxonomy_for
    from opinion.sources.files import AIRLINE_REVIEWS, FileSourceConfig
    from opinion.warehouse import connect
    from opinion.warehouse.load import run_load as load

    started = time.time()
    ratings = read_ratings(ratings_path)
    with tempfile.TemporaryDirectory(prefix="reviews_validity_") as tmp:
        tmp_dir = Path(tmp)
        settings = Settings.from_env(
            lake_dir=tmp_dir / "lake",
            warehouse=tmp_dir / "wh" / "opinion.duckdb",
            state_dir=tmp_dir / "state",
            model=model,
        )
        subset = tmp_dir / "reviews.csv"
        n = sample_reviews(reviews, set(ratings), sample, seed, subset)
        if n == 0:
            raise ValueError(f"no review of {reviews.name} has a rating in {ratings_path.name}")
        cfg = FileSourceConfig(subset, "reviews", AIRLINE_REVIEWS, rating_scale="1-10")
        collected = collect_file(settings, cfg)
        engine = load_engine(settings)
        extracted = extract(settings, engine)
        load(settings)
        pack = taxonomy_for(settings)
        filters = aspect_filters(set(pack.categories))
        con = connect(settings.warehouse, read_only=True)
        try:
            scores = review_scores(con, filters)
            airline_of_review = {
                rid: brand or ""
                for rid, brand in con.execute("SELECT native_id, brand FROM posts").fetchall()
            }
            mentions = con.execute("SELECT count(*) FROM mentions").fetchall()[0][0]
        finally:
            con.close()
    sampled = {r: ratings[r] for r in airline_of_review if r in ratings}
    result = correlate(scores, sampled, airline_of_review)
    for aspect, (kind, names) in filters.items():
        result[aspect]["mapped_by"], result[aspect]["categories"] = kind, names
    summary = {
        "reviews": n,
        "collected": collected.posts,
        "rejected": collected.rejected,
        "mentions": mentions,
        "model_version": extracted.model_version,
        "taxonomy_version": pack.version,
        "extract_seconds": extracted.seconds,
        "seconds": round(time.time() - started, 1),
    }
    return result, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=Path, required=True, help="reviews CSV")
    parser.add_argument("--ratings", type=Path, required=True, help="aspect star ratings CSV")
    parser.add_argument("--sample", type=int, default=None, help="random N rated reviews")
    parser.add_argument("--seed", type=int, default=13, help="sample seed (default 13)")
    parser.add_argument("--model", default=None, help="model (default: OPINION_MODEL/embedded)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    for path in (args.reviews, args.ratings):
        if not path.is_file():
            print(f"error: file not found: {path}", file=sys.stderr)
            return 2
    if args.sample is not None and args.sample < 1:
        print(f"error: --sample must be >= 1, got {args.sample}", file=sys.stderr)
        return 2
    try:
        result, summary = run(args.reviews, args.ratings, args.sample, args.seed, args.model)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary), file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        for aspect, r in result.items():
            print(
                f"{aspect:22} pearson={r['pearson']}  spearman_airlines={r['spearman_airlines']}"
                f"  reviews={r['reviews']}/{r['rated']}  airlines={r['airlines']}"
                f"  via {r['mapped_by']}: {', '.join(r['categories'])}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
