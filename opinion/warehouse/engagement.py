"""A post's engagement: the sum of the platform counters in its raw record.

One definition for the loader, which stores it per `verbatims` row (`post_engagement`, the
"most engaged" sort key), and for the dashboard. Migration 0010 spells the same expression
out in SQL to fill existing rows; tests/warehouse/test_verbatim_sort_keys.py holds them equal.
"""

from __future__ import annotations

ENGAGEMENT_KEYS = (
    "retweet_count", "favorite_count", "like_count", "likes", "reply_count", "replies_count",
    "reblogs_count", "favourites_count", "score", "num_comments", "helpful_votes",
)  # fmt: skip


def engagement_sql(raw: str = "raw") -> str:
    """SQL for the engagement of the JSON column `raw` (a constant name, never input): the sum
    of the keys that are numbers, from one parse of the record (one json_extract_string per
    key parsed it 11 times: 3.5x slower); 0 when `raw` is not valid JSON."""
    paths = ", ".join(f"'$.{k}'" for k in ENGAGEMENT_KEYS)
    return (
        f"CASE WHEN json_valid({raw}) THEN list_sum(list_transform(json_extract_string({raw}, "
        f"[{paths}]), lambda x: coalesce(TRY_CAST(x AS BIGINT), 0))) ELSE 0 END"
    )


ENGAGEMENT = engagement_sql()
