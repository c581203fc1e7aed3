"""Every `verbatims` row carries its post's sort keys (migration 0010): the net sentiment and
negatives over all the post's mentions and its engagement. The loader fills them on a full
rebuild and on a (brand, day) group refresh, and the migration fills the rows of a warehouse
built before it; all three must give the values a per-post aggregate gives."""

from __future__ import annotations

import json

from opinion.records import POLARITIES, stable_id
from opinion.warehouse import connect, load_lake
from opinion.warehouse.engagement import ENGAGEMENT_KEYS
from opinion.warehouse.migrate import SCHEMA_DIR

from .conftest import post_row, write_mentions

KEYS = ("post_net", "post_negatives", "post_engagement")
# the expected keys, computed independently: per post from the mentions table, engagement
# with one json_extract_string per key
EXPECTED = f"""
SELECT v.mention_id, a.net, a.neg, coalesce(e.eng, 0)
FROM verbatims v
JOIN (SELECT post_id,
             (count(*) FILTER (WHERE polarity = 'positive')
              - count(*) FILTER (WHERE polarity = 'negative')) / count(*) AS net,
             count(*) FILTER (WHERE polarity = 'negative') AS neg
      FROM mentions GROUP BY post_id) a USING (post_id)
LEFT JOIN (SELECT post_id, CASE WHEN json_valid(raw) THEN {
    " + ".join(
        f"coalesce(TRY_CAST(json_extract_string(raw, '$.{k}') AS BIGINT), 0)"
        for k in ENGAGEMENT_KEYS
    )
} ELSE 0 END AS eng FROM posts) e USING (post_id)
ORDER BY v.mention_id
"""
STORED = f"SELECT mention_id, {', '.join(KEYS)} FROM verbatims ORDER BY mention_id"


def _raw(i: int) -> str:
    """Engagement counters of several platforms, a non-number, and records that are not JSON."""
    if i % 5 == 4:
        return "{not json"
    counters = {k: (i * 3 + n) % 7 for n, k in enumerate(ENGAGEMENT_KEYS) if (i + n) % 3 == 0}
    return json.dumps({"id": i, **counters, "likes": "many" if i % 4 == 0 else i})


def _posts(day: str, d: int, flip: bool = False) -> tuple[list[dict], list[dict]]:
    posts, mentions = [], []
    for i in range(12):
        p = post_row("twitter", day, i, raw=_raw(i + 12 * d), brand="united" if i % 3 else "delta")
        posts.append(p)
        for j in range(i % 5):  # 0 to 4 mentions, mixed polarities
            polarity = POLARITIES[(i + j) % 3]
            if flip and i == 7:
                polarity = "negative"
            mentions.append(
                {"mention_id": stable_id(p["post_id"], j), "post_id": p["post_id"],
                 "term": f"t{j}", "start": 3 * j, "end": 3 * j + 2, "aspect": f"a{j}",
                 "polarity": polarity, "confidence": 0.8, "model_version": "m1",
                 "category": None, "touchpoint": None, "cx_domain": None,
                 "taxonomy_version": None}
            )  # fmt: skip
    return posts, mentions


DAYS = ("2015-02-20", "2015-02-21")


def _lake(settings, days=(0, 1), flip: bool = False) -> None:
    for d in days:
        write_mentions(settings.lake_dir, "twitter", DAYS[d], *_posts(DAYS[d], d, flip))


def test_rebuild_and_group_refresh_store_the_posts_keys(settings):
    _lake(settings)
    load_lake(settings, max_age_days=None)
    with connect(settings.writer_warehouse) as con:
        stored = con.execute(STORED).fetchall()
        assert stored == con.execute(EXPECTED).fetchall()
        assert len(stored) > 30
        assert {r[3] for r in stored} - {0} and 0 in {r[3] for r in stored}  # real engagement
        assert len({r[1] for r in stored}) > 3
    _lake(settings, days=(1,), flip=True)  # one post of the second day turns all negative
    report = load_lake(settings, max_age_days=None)
    assert report.partitions_loaded == [f"mentions/source=twitter/day={DAYS[1]}"]
    with connect(settings.writer_warehouse) as con:
        refreshed = con.execute(STORED).fetchall()
        assert refreshed == con.execute(EXPECTED).fetchall()
        assert refreshed != stored


def test_the_migration_fills_the_rows_of_an_older_warehouse(settings):
    _lake(settings)
    load_lake(settings, max_age_days=None)
    sql = (SCHEMA_DIR / "0010_verbatim_sort_keys.sql").read_text()
    with connect(settings.writer_warehouse) as con:
        loaded = con.execute(STORED).fetchall()
        for key in KEYS:  # the table as migration 0009 left it
            con.execute(f"ALTER TABLE verbatims DROP COLUMN {key}")
        con.execute(sql)
        assert con.execute(STORED).fetchall() == loaded
        # and on an empty table
        con.execute("DELETE FROM verbatims")
        for key in KEYS:
            con.execute(f"ALTER TABLE verbatims DROP COLUMN {key}")
        con.execute(sql)
        assert con.execute(STORED).fetchall() == []
