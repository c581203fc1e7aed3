"""The verbatims page reads the materialised `verbatims` table and pages newest-first by keyset;
on a warehouse made by the real loader it must show exactly what the `v_verbatims` view gives.

The reference below is the page's previous query, which read the view: rank the matching
posts, number them, cut one page. Every page of every order is compared with it, post by post
and mention by mention, and the keyset links are walked forwards and back.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from opinion.config import Settings
from opinion.records import POLARITIES, stable_id
from opinion.serve import catalog, filters, verbatims
from opinion.serve.app import create_app
from opinion.serve.db import Snapshot
from opinion.warehouse import load_lake
from opinion.warehouse.engagement import ENGAGEMENT_KEYS
from tests.warehouse.conftest import post_row, write_mentions

PER_PAGE = verbatims.VERBATIMS_PER_PAGE
DAYS = ("2015-02-20", "2015-02-21", "2015-02-22")

# the page's query before the `verbatims` table: the view, ranked with row_number
REFERENCE = """
WITH hit AS (
    SELECT post_id, any_value(created_at) AS created_at, list(mention_id) AS matched
    FROM v_verbatims
    WHERE {match}
    GROUP BY post_id
), ranked AS (
    SELECT h.post_id, h.matched, row_number() OVER (ORDER BY {order}) AS rk
    FROM hit h {join}
)
SELECT r.post_id, list_sort(r.matched),
       (SELECT list(mention_id ORDER BY mention_id) FROM v_verbatims v
        WHERE v.post_id = r.post_id),
       (SELECT CASE WHEN json_valid(raw) THEN {engagement} ELSE 0 END FROM posts p
        WHERE p.post_id = r.post_id),
       (SELECT text FROM posts p WHERE p.post_id = r.post_id)
FROM ranked r ORDER BY rk
"""
# the engagement as the page computed it: one json_extract_string per key
ENGAGEMENT = " + ".join(
    f"coalesce(TRY_CAST(json_extract_string(raw, '$.{k}') AS BIGINT), 0)" for k in ENGAGEMENT_KEYS
)
RANK = {
    "newest": ("", "h.created_at DESC, h.post_id"),
    "negative": (
        """JOIN (SELECT post_id, count(*) FILTER (WHERE polarity = 'negative') AS neg,
                        (count(*) FILTER (WHERE polarity = 'positive')
                         - count(*) FILTER (WHERE polarity = 'negative')) / count(*) AS net
                 FROM mentions WHERE post_id IN (SELECT post_id FROM hit)
                 GROUP BY post_id) s USING (post_id)""",
        "s.net, s.neg DESC, h.created_at DESC, h.post_id",
    ),
    "engaged": (
        f"""JOIN (SELECT post_id,
                         CASE WHEN json_valid(raw) THEN {ENGAGEMENT} ELSE 0 END AS e
                  FROM posts WHERE post_id IN (SELECT post_id FROM hit)) s USING (post_id)""",
        "s.e DESC, h.created_at DESC, h.post_id",
    ),
}


def _lake_posts(day: str, d: int) -> tuple[list[dict], list[dict]]:
    """~100 posts of two brands: pairs with the same created_at (keyset ties), 0 to 3
    mentions each, spam and a duplicate (not eligible: never shown), engagement in the raw
    record; and more rows than the first Top-N reads in the first post of each order: one of
    the newest posts has 250 mentions and the most engagement, one has 200 negative ones."""
    posts, mentions = [], []
    for i in range(100):
        created = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(minutes=i // 2)
        over = {
            "brand": "united" if i % 3 else "delta",
            "created_at": created,
            "raw": json.dumps({"id": f"{day}-{i}", "retweet_count": (i * 7) % 11}),
        }
        many = {(2, 98): 250, (1, 50): 200}.get((d, i))
        if (d, i) == (2, 98):
            over["raw"] = json.dumps({"id": f"{day}-{i}", "retweet_count": 1000})
        if i % 17 == 0:
            over["spam_score"] = 0.9
        if d == 0 and i in (10, 11):
            over["text_hash"] = stable_id("text", "same story")  # one becomes a duplicate
        p = post_row("twitter", day, i, **over)
        posts.append(p)
        n = many or i % 4
        for j in range(n):
            baggage = (i + j) % 3 == 0
            mentions.append(
                {
                    "mention_id": stable_id(p["post_id"], j),
                    "post_id": p["post_id"],
                    "term": f"term{j}",
                    "start": 5 * j,
                    "end": 5 * j + 4,
                    "aspect": "bag" if baggage else f"aspect{j % 5}",
                    "polarity": "negative" if n == 200 else POLARITIES[(i * 5 + j) % 3],
                    "confidence": 0.8,
                    "model_version": "m1",
                    "category": "lost_luggage" if baggage else None,
                    "touchpoint": "baggage" if baggage else None,
                    "cx_domain": None,
                    "taxonomy_version": None,
                }
            )
    return posts, mentions


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("verbatims")
    settings = Settings.from_env(
        lake_dir=root / "lake", warehouse=root / "wh" / "opinion.duckdb", state_dir=root / "state"
    )
    for d, day in enumerate(DAYS):
        posts, mentions = _lake_posts(day, d)
        write_mentions(settings.lake_dir, "twitter", day, posts, mentions)
    load_lake(settings, max_age_days=None)
    return settings


@pytest.fixture(scope="module")
def snapshot(loaded):
    snap = Snapshot(loaded.warehouse)
    yield snap
    snap.close()


@pytest.fixture(scope="module")
def client(loaded):
    return TestClient(create_app(loaded))


def reference(snapshot, f: filters.Filters) -> list[tuple]:
    """(post_id, matching mention ids, all mention ids, engagement, text) of every matching
    post, in order."""
    join, order = RANK[f.sort]
    sql = REFERENCE.format(match=verbatims._MATCH, join=join, order=order, engagement=ENGAGEMENT)
    with snapshot.cursor() as cur:
        return [tuple(r) for r in cur.execute(sql, verbatims._verbatim_params(f)).fetchall()]


def parsed(snapshot, **params) -> filters.Filters:
    with snapshot.cursor() as cur:
        cat = catalog.catalog(cur)
    return filters.parse(params, cat)


def test_the_table_holds_the_rows_of_the_view(snapshot):
    with snapshot.cursor() as cur:
        cols = ", ".join(
            f'"{c}"' for (c,) in cur.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'v_verbatims' ORDER BY ordinal_position"
            ).fetchall()
        )  # fmt: skip
        (n,) = cur.execute("SELECT count(*) FROM verbatims").fetchone()
        (diff,) = cur.execute(
            f"SELECT count(*) FROM ((SELECT {cols} FROM verbatims EXCEPT ALL "
            f"SELECT {cols} FROM v_verbatims) UNION ALL (SELECT {cols} FROM v_verbatims "
            f"EXCEPT ALL SELECT {cols} FROM verbatims))"
        ).fetchone()
    assert n > 200 and diff == 0


SCOPES = [
    {"brand": "united"},
    {"brand": "united", "touchpoint": "baggage"},
    {"brand": "united", "polarity": "negative", "from": "2015-02-21", "to": "2015-02-22"},
    {"brand": "delta", "aspect": "aspect1"},
    {"brand": "united", "q": "POST 2015-02-21"},
    {"brand": "united", "since": "2015-02-20T00:10:00+00:00", "until": "2015-02-21T00:30:00Z"},
]


@pytest.mark.parametrize("sort", filters.SORTS)
@pytest.mark.parametrize("scope", SCOPES)
def test_every_page_agrees_with_the_view(snapshot, scope, sort):
    f = parsed(snapshot, **scope, sort=sort)
    assert not f.problems and not f.unknown
    expected = reference(snapshot, f)
    assert expected
    mentions = sum(len(r[1]) for r in expected)
    with snapshot.cursor() as cur:
        assert verbatims.verbatim_counts(cur, f) == (len(expected), mentions)
        shown, page = [], verbatims.verbatim_page(cur, f)
        while True:  # newest: the keyset of the last post; others: the next page number
            shown += [
                (p.post_id, sorted(m.mention_id for m in p.mentions if m.matched),
                 sorted(m.mention_id for m in p.mentions), p.engagement, p.text)
                for p in page.posts
            ]  # fmt: skip
            assert len(page.posts) == (PER_PAGE if page.more else len(page.posts))
            if not page.more:
                break
            step = {"after": page.last} if sort == "newest" else {}
            page = verbatims.verbatim_page(cur, replace(f, page=page.number + 1, **step))
    assert shown == expected


@pytest.mark.parametrize("sort", filters.SORTS)
def test_each_order_has_several_pages_and_a_big_post_first(snapshot, sort):
    f = parsed(snapshot, brand="united", sort=sort)
    expected = reference(snapshot, f)
    assert len(expected) > 2 * PER_PAGE  # three pages or more
    with snapshot.cursor() as cur:
        first = verbatims.verbatim_page(cur, f).posts[0]
    assert len(first.mentions) == {"newest": 250, "engaged": 250, "negative": 200}[sort]
    assert first.post_id == expected[0][0]


def test_old_page_links_still_work(snapshot):
    f = parsed(snapshot, brand="united", page="3")
    expected = [r[0] for r in reference(snapshot, f)]
    assert len(expected) > 2 * PER_PAGE
    with snapshot.cursor() as cur:
        page = verbatims.verbatim_page(cur, f)
    assert [p.post_id for p in page.posts] == expected[2 * PER_PAGE : 3 * PER_PAGE]


def _ids(html: str) -> list[str]:
    return re.findall(r'data-post="([^"]+)"', html)


def _link(html: str, which: str) -> str | None:
    m = re.search(rf'<a href="(\?[^"]+)" id="{which}">', html)
    return "/verbatims" + m.group(1).replace("&amp;", "&") if m else None


def test_pager_walks_forward_and_back_by_keyset(client, snapshot):
    expected = [r[0] for r in reference(snapshot, parsed(snapshot, brand="united"))]
    r = client.get("/verbatims", params={"brand": "united"})
    assert f'<span id="post-count">{len(expected)}</span>' in r.text
    pages = [_ids(r.text)]
    while (nxt := _link(r.text, "next")) is not None:
        assert "after=" in nxt and "before=" not in nxt
        r = client.get(nxt)
        assert r.status_code == 200 and "Ignored" not in r.text
        pages.append(_ids(r.text))
    assert [p for page in pages for p in page] == expected
    assert len(pages) == -(-len(expected) // PER_PAGE)
    assert f"page {len(pages)} of {len(pages)}" in r.text
    assert len(pages) >= 3
    back, links = [], []
    while (prev := _link(r.text, "prev")) is not None:
        links.append(prev)
        r = client.get(prev)
        back.append(_ids(r.text))
    assert back == pages[-2::-1]  # the previous pages, the first one last
    assert all("before=" in link for link in links[:-1])
    assert "before=" not in links[-1]  # page 1 is the plain link: it shows the newest posts


def test_bad_or_foreign_cursors_are_ignored_with_a_message(client):
    bad = ("2015-02-22", "nonsense_x", "x" * 300, "2015-02-21T25:00:00Z_x", "  _x",
           "0001-01-01T00:00:00+23:59_x", "9999-12-31T23:59:59-23:59_x")  # fmt: skip
    for value in bad:
        r = client.get("/verbatims", params={"brand": "united", "after": value})
        assert r.status_code == 200 and "Ignored after" in r.text
        assert 'data-post="' in r.text
    for value in ("0001-01-01T00:00:00Z_x", "9999-12-31T23:59:59.999999Z_x"):  # the extremes
        for key in ("after", "before"):
            r = client.get("/verbatims", params={"brand": "united", key: value})
            assert r.status_code == 200 and "Ignored" not in r.text
    # a cursor of the newest order means nothing for another order: that order's page 1
    cursor = filters.format_cursor((datetime(2015, 2, 21, tzinfo=UTC), "x"))
    plain = client.get("/verbatims", params={"brand": "united", "sort": "negative"})
    r = client.get("/verbatims", params={"brand": "united", "sort": "negative", "after": cursor})
    assert _ids(r.text) == _ids(plain.text)


def test_links_that_change_the_filters_drop_the_cursor(client):
    first = client.get("/verbatims", params={"brand": "united"})
    r = client.get(_link(first.text, "next"))
    hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', r.text)]
    with_cursor = ["/verbatims" + h for h in hrefs if "after=" in h or "before=" in h]
    assert with_cursor == [_link(r.text, "next")]  # the pager's next link, nothing else


def test_page_numbers_beyond_the_skip_limit_only_with_a_keyset(client):
    first = client.get("/verbatims", params={"brand": "united"})
    r = client.get("/verbatims", params={"brand": "united", "page": "5000"})
    assert "Ignored page" in r.text and _ids(r.text) == _ids(first.text)
    nxt = _link(first.text, "next").replace("page=2", "page=5000")
    r = client.get(nxt)
    assert "Ignored" not in r.text and "page 5000 of 5000" in r.text
    assert _ids(r.text) == _ids(client.get(_link(first.text, "next")).text)


def test_times_at_the_edge_of_the_calendar_are_a_message(client):
    r = client.get(
        "/verbatims",
        params={"brand": "united", "since": "0001-01-01T00:00:00+23:59", "until": "2015-03-01"},
    )
    assert r.status_code == 200 and "Ignored since" in r.text
