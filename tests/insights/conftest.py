"""Hand-made warehouse fixtures: posts and mentions inserted into a real DuckDB in tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from opinion.warehouse import connect

_ids = count()


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "w.duckdb")
    yield c
    c.close()


def add(
    con,
    brand: str,
    day: str,
    polarities: dict[str, int],
    touchpoint: str = "baggage",
    category: str | None = None,
    hour: int = 12,
    dup: bool = False,
    spam: float = 0.0,
    rating: int | None = None,
) -> None:
    """One post per mention: `polarities` like {"positive": 8, "negative": 2}."""
    created = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=hour)
    for polarity, n in polarities.items():
        for _ in range(n):
            i = next(_ids)
            pid = f"p{i}"
            con.execute(
                "INSERT INTO posts (post_id, source, brand, created_at, text, rating, spam_score,"
                " dup_of, lake_partition, loaded_at)"
                " VALUES (?, 'src', ?, ?, ?, ?, ?, ?, 'x', now())",
                [pid, brand, created, f"text {i}", rating, spam, "p0" if dup else None],
            )
            con.execute(
                "INSERT INTO mentions (mention_id, post_id, term, aspect, polarity, category,"
                " touchpoint, cx_domain, loaded_at) VALUES (?, ?, 't', 't', ?, ?, ?, 'success',"
                " now())",
                [f"m{i}", pid, polarity, category or touchpoint, touchpoint],
            )
