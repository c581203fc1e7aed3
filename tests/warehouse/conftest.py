"""Shared builders: small hand-made Arrow partitions written to a lake in tmp_path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from opinion.config import Settings
from opinion.lake import MENTION_POSTS_SCHEMA, MENTIONS_SCHEMA, Lake
from opinion.records import POLARITIES, post_id_for, stable_id

REPO = Path(__file__).resolve().parents[2]
COLLECTED = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        lake_dir=tmp_path / "lake",
        warehouse=tmp_path / "warehouse" / "opinion.duckdb",
        state_dir=tmp_path / "state",
    )


def post_row(source: str, day: str, i: int, **over: object) -> dict:
    created = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(minutes=i)
    native = f"{day}-{i}"
    row = {
        "post_id": post_id_for(source, native),
        "source": source,
        "native_id": native,
        "url": f"https://example.test/{source}/{native}",
        "author_hash": stable_id("author", i % 7),
        "brand": "united",
        "created_at": created,
        "text": f"post {native} about the seats",
        "rating": None,
        "language": "en",
        "raw": json.dumps({"id": native}),
        "collected_at": COLLECTED,
        "is_english": True,
        "text_hash": stable_id("text", source, native),
        "minhash_bands": [stable_id("band", source, native, b) for b in range(2)],
        "spam_score": 0.1,
        "spam_reasons": None,
        "sentiment": POLARITIES[i % 3],
        "sentiment_confidence": 0.9,
        "model_version": "m1",
        "extracted_at": COLLECTED,
    }
    row.update(over)
    return row


def mention_rows(posts: list[dict], per_post: int = 2) -> list[dict]:
    out = []
    for p in posts:
        for j in range(per_post):
            start, end = 5 * j, 5 * j + 4
            out.append(
                {
                    "mention_id": stable_id(p["post_id"], start, end),
                    "post_id": p["post_id"],
                    "term": f"term{j}",
                    "start": start,
                    "end": end,
                    "aspect": f"aspect{j}",
                    "polarity": POLARITIES[j % 3],
                    "confidence": 0.8,
                    "model_version": "m1",
                    "category": None,
                    "touchpoint": None,
                    "cx_domain": None,
                    "taxonomy_version": None,
                }
            )
    return out


def write_mentions(
    lake: Path, source: str, day: str, posts: list[dict], mentions: list[dict] | None = None
):
    mentions = mention_rows(posts) if mentions is None else mentions
    return Lake.of(lake).write_partition(
        "mentions",
        source,
        day,
        {
            "posts": pa.Table.from_pylist(posts, schema=MENTION_POSTS_SCHEMA),
            "mentions": pa.Table.from_pylist(mentions, schema=MENTIONS_SCHEMA),
        },
        {"opinion.model_version": "m1", "opinion.input_fingerprint": "test"},
    )


def make_lake(lake: Path, source: str = "twitter", days: int = 2, per_day: int = 5) -> list[dict]:
    """`days` partitions of `per_day` posts (2 mentions each); returns all post rows."""
    rows = []
    for d in range(days):
        day = f"2015-02-{20 + d:02d}"
        posts = [post_row(source, day, i) for i in range(per_day)]
        write_mentions(lake, source, day, posts)
        rows += posts
    return rows


def counts(con) -> dict[str, int]:
    return {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("posts", "mentions", "rejects", "runs", "loaded_partitions")
    }
