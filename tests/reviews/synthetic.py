"""Tiny synthetic review rows in the shape of the Skytrax export (no real data committed).

Each airline has a "good" and a "bad" profile: its reviews praise or pan seat, food, crew,
check-in and value, and carry matching 1-10 overall scores and 1-5 aspect stars, so a test can
check that the text-derived scores move with the stars."""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = [
    "review_id", "airline", "published", "title", "text", "rating", "recommended", "cabin",
    "traveller_type", "route", "flown", "verified", "author",
]  # fmt: skip
RATING_HEADER = [
    "review_id", "airline", "seat_comfort", "food_beverages", "ground_service",
    "cabin_staff_service", "value_for_money",
]  # fmt: skip

GOOD = (
    "The seat was very comfortable and the legroom was excellent. The food was delicious and "
    "the wine was lovely. The cabin crew were friendly and attentive. Check-in at the airport "
    "was quick and easy. Great value for money, a cheap fare."
)
BAD = (
    "The seat was cramped and uncomfortable and the legroom was terrible. The food was "
    "disgusting and cold. The cabin crew were rude and unhelpful. Check-in at the airport was "
    "chaotic and slow. Poor value for money, an expensive fare."
)
AIRLINES = [
    ("Good Air", GOOD, 9, 5, "yes"),
    ("Bad Air", BAD, 2, 1, "no"),
    ("Mid Air", None, 6, 3, ""),
]


_FILLER_TEXT = (
    "we flew from the coast to the capital last spring with two suitcases and a guidebook "
    "about old churches markets rivers bridges castles gardens museums harbours islands "
    "mountains villages vineyards beaches lakes valleys forests cathedrals squares towers "
    "canals palaces libraries theatres galleries festivals concerts parks zoos stadiums "
    "monday tuesday wednesday thursday friday saturday sunday morning evening afternoon "
    "sister brother cousin friend colleague daughter son grandmother uncle aunt partner"
)
_FILLER = _FILLER_TEXT.split()


def _distinct(body: str, rng: random.Random, seen: set[str]) -> str:
    """`body` plus a short travel story that shares no MinHash band (nor text hash) with the
    texts already made, so the warehouse's near-duplicate rule keeps every review."""
    from opinion.clean.dedupe import minhash_bands, text_fingerprint

    while True:
        story = " ".join(rng.choice(_FILLER) for _ in range(45)).capitalize() + "."
        text = f"{story} {body}"
        keys = {f"b:{b}" for b in minhash_bands(text)} | {f"h:{text_fingerprint(text)}"}
        if not keys & seen:
            seen |= keys
            return text


def write_reviews(folder: Path, per_airline: int = 4) -> tuple[Path, Path]:
    """(reviews CSV, ratings CSV) with `per_airline` reviews for each of three airlines."""
    folder.mkdir(parents=True, exist_ok=True)
    reviews, ratings = folder / "reviews.csv", folder / "reviews.ratings.csv"
    rng, seen = random.Random(7), set()
    with (
        reviews.open("w", newline="", encoding="utf-8") as fr,
        ratings.open("w", newline="", encoding="utf-8") as fs,
    ):
        wr, ws = csv.writer(fr), csv.writer(fs)
        wr.writerow(HEADER)
        ws.writerow(RATING_HEADER)
        for a, (airline, text, overall, stars, rec) in enumerate(AIRLINES):
            for i in range(per_airline):
                rid = f"r{a}{i:03d}"
                body = text or (GOOD if i % 2 else BAD)
                star = stars if text else (4 if i % 2 else 2)
                score = overall if text else (8 if i % 2 else 3)
                title = '"Crew were wonderful"' if star >= 3 else "“Rude crew, awful seat”"
                day = f"2024-0{1 + i % 3}-1{i % 9}"
                wr.writerow(
                    [rid, airline, day, title, _distinct(body, rng, seen), score, rec or ("yes"
                     if star >= 3 else "no"), "Economy Class", "Solo Leisure", "A to B",
                     "May 2024", 1, f"Reviewer {a}{i}"]
                )  # fmt: skip
                ws.writerow([rid, airline, star, star, star, star, "" if i == 0 else star])
    return reviews, ratings
