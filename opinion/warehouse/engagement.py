"""A post's engagement: the sum of the platform counters in its raw record.

One definition for the loader, which stores it on the post's `verbatims` rows
(`post_engagement`, the dashboard's "most engaged" sort key). Migration 0010 spells the same
expression out to fill existing rows; tests/warehouse/test_verbatim_sort_keys.py holds the
two equal.
"""

from __future__ import annotations

ENGAGEMENT_KEYS = (
    "retweet_count", "favorite_count", "like_count", "likes", "reply_count", "replies_count",
    "reblogs_count", "favourites_count", "score", "num_comments", "helpful_votes",
)  # fmt: skip

# SQL over the JSON column `raw`, a constant built from the keys above (never from input): the
# sum of the keys that are numbers, from one parse of the record (one json_extract_string per
# key parsed it 11 times: 3.5x slower); 0 when `raw` is not valid JSON
ENGAGEMENT = (
    "CASE WHEN json_valid(raw) THEN list_sum(list_transform(json_extract_string(raw, ["
    + ", ".join(f"'$.{k}'" for k in ENGAGEMENT_KEYS)
    + "]), lambda x: coalesce(TRY_CAST(x AS BIGINT), 0))) ELSE 0 END"
)
