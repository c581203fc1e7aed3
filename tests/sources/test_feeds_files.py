"""RSS/Atom (conditional GET, hostile XML), the files source, state files, opinion.yaml."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from conftest import Resp

from opinion.collect.jobs import collect_source
from opinion.sources.registry import build_source
from opinion.sources.state import all_cursors, read_cursor, write_cursor

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Airline news</title><link>https://news.example/</link>
<item><title>Delta adds flights</title><link>https://news.example/a</link>
  <guid isPermaLink="false">news-a</guid><pubDate>Sat, 01 Jun 2024 10:00:00 GMT</pubDate>
  <dc:creator>Reporter One</dc:creator>
  <description>&lt;p&gt;Delta &amp;amp; friends expand.&lt;/p&gt;</description></item>
<item><title>JetBlue delays</title><link>https://news.example/b</link>
  <guid>https://news.example/b</guid><pubDate>Sun, 02 Jun 2024 10:00:00 +0000</pubDate>
  <content:encoded><![CDATA[<p>Long <b>delays</b> at JFK.</p>]]></content:encoded></item>
<item><title>No date</title><link>https://news.example/c</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title><id>urn:blog</id>
<updated>2024-06-02T00:00:00Z</updated>
<entry><title>United review</title><id>urn:blog:1</id>
  <link rel="alternate" href="https://blog.example/1"/><updated>2024-06-01T08:00:00Z</updated>
  <author><name>Writer</name></author><summary type="html">&lt;b&gt;Great&lt;/b&gt; crew</summary>
</entry></feed>"""

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
<rss version="2.0"><channel><item><title>&lol2;</title></item></channel></rss>"""


def flat(text: str) -> str:
    return " ".join(text.split())


def raw(settings, source):
    out = []
    for p in settings.lake.list_partitions("raw", source):
        out += pq.read_table(p.file("posts")).to_pylist()
    return out


def test_rss_conditional_get(api, settings, client):
    def feed(req):
        if req.headers.get("if-none-match") == '"v1"':
            return Resp(304, b"")
        return Resp(200, RSS, {"ETag": '"v1"', "Last-Modified": "Sun, 02 Jun 2024 11:00:00 GMT"})

    api.route("/feed.xml", feed)
    src = build_source("rss", client=client, base_url=api.url, url="/feed.xml")
    report = collect_source(settings, src)
    rows = {r["native_id"]: r for r in raw(settings, "rss")}
    assert set(rows) == {"news-a", "https://news.example/b"}
    assert flat(rows["news-a"]["text"]) == "Delta adds flights Delta & friends expand."
    assert flat(rows["https://news.example/b"]["text"]) == "JetBlue delays Long delays at JFK."
    assert rows["news-a"]["url"] == "https://news.example/a"
    assert report["rejected"] == 1  # the item without a date
    report = collect_source(settings, src)
    second = api.requests("/feed.xml")[-1]
    assert second.headers["if-none-match"] == '"v1"'
    assert second.headers["if-modified-since"] == "Sun, 02 Jun 2024 11:00:00 GMT"
    assert report["read"] == 0 and report["posts"] == 0


def test_atom_and_query_filter(api, settings, client):
    api.route("/atom", lambda req: Resp(200, ATOM))
    api.route("/rss", lambda req: Resp(200, RSS))
    collect_source(settings, build_source("rss", client=client, url=api.url + "/atom"))
    (row,) = raw(settings, "rss")
    assert (
        flat(row["text"]) == "United review Great crew" and row["url"] == "https://blog.example/1"
    )
    src = build_source("rss", client=client, url=api.url + "/rss", query="jetblue", name="news")
    collect_source(settings, src)
    assert [r["native_id"] for r in raw(settings, "news")] == ["https://news.example/b"]


@pytest.mark.parametrize("body,why", [(BOMB, "DOCTYPE"), (b"<rss><channel><item>", "invalid XML")])
def test_hostile_or_broken_xml_is_a_reject(api, settings, client, body, why):
    api.route("/bad", lambda req: Resp(200, body))
    report = collect_source(settings, build_source("rss", client=client, url=api.url + "/bad"))
    assert report["rejected"] == 1 and report["posts"] == 0
    (rej,) = settings.lake.list_rejects()[0].read().to_pylist()
    assert why in rej["reason"] and rej["reason"].startswith("malformed page: http://127.0.0.1")


def test_files_source_cursor_is_fingerprint(tmp_path, settings):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 1, "body": "Delta was great", "ts": "2024-06-01T10:00:00Z"}\nnot json\n'
    )
    opts = dict(path=str(path), name="export", mapping={"native_id": "id", "text": "body",
                "created_at": "ts"}, url_template="https://ex.example/{native_id}")  # fmt: skip
    report = collect_source(settings, build_source("files", **opts))
    assert report["posts"] == 1 and report["rejected"] == 1
    assert report["cursor"].startswith("sha256:")
    assert collect_source(settings, build_source("files", **opts))["pages"] == 0
    path.write_text(path.read_text() + '{"id": 2, "body": "Late", "ts": "2024-06-02"}\n')
    report = collect_source(settings, build_source("files", **opts))
    assert report["posts"] == 2 and len(raw(settings, "export")) == 2
    assert len(settings.lake.list_rejects("collect", "export")) == 1  # replaced


def test_state_files_are_atomic_json(settings):
    assert read_cursor(settings.lake_dir, "mastodon", "k1") is None
    write_cursor(settings.lake_dir, "mastodon", "k1", '{"since": "5"}')
    write_cursor(settings.lake_dir, "bluesky", "k2", "c")
    path = settings.lake_dir / "state" / "source=mastodon" / "k1.json"
    assert json.loads(path.read_text())["cursor"] == '{"since": "5"}'
    assert [(c["source"], c["key"]) for c in all_cursors(settings.lake_dir)] == [
        ("bluesky", "k2"),
        ("mastodon", "k1"),
    ]
    assert not list(path.parent.glob("*.tmp"))
    with pytest.raises(ValueError):
        write_cursor(settings.lake_dir, "../x", "k", "c")


@pytest.mark.parametrize(
    "opts,message",
    [
        ({"query": "delta", "page_size": 0}, "mastodon.page_size=0"),
        ({"query": "delta", "timeline": "home"}, "mastodon.timeline='home'"),
        ({"query": "delta", "colour": "red"}, "unknown option(s) for mastodon: colour"),
        ({"query": "delta", "base_url": "ftp://x"}, "mastodon.base_url='ftp://x'"),
        ({"query": "delta", "since": "someday"}, "mastodon.since='someday'"),
    ],
)
def test_config_errors_are_one_line(opts, message):
    with pytest.raises(ValueError) as err:
        build_source("mastodon", **opts)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_opinion_yaml_has_the_demo_job_and_disabled_examples(settings):
    from opinion.sources.config import configured_jobs
    from opinion.sources.files import AIRLINE_TWEETS, TWEET_URL

    enabled = configured_jobs(settings)
    assert [j.name for j in enabled] == ["airline_tweets"]
    (src,) = enabled[0].sources()
    assert src.name == "airline_tweets" and src.config.mapping == AIRLINE_TWEETS
    assert src.config.url_template == TWEET_URL
    assert src.config.path == str(settings.data_dir / "demo" / "airline_tweets.csv")
    every = {j.source for j in configured_jobs(settings, enabled_only=False)}
    assert every == {"files", "mastodon", "bluesky", "hackernews", "reddit", "appstore", "rss"}


def test_bad_opinion_yaml(tmp_path, settings, monkeypatch):
    from opinion.sources.config import configured_jobs

    cfg = tmp_path / "o.yaml"
    monkeypatch.setenv("OPINION_CONFIG", str(cfg))
    cfg.write_text("jobs:\n  - {name: x, source: reddit, options: {subreddit: travel}}\n")
    with pytest.raises(ValueError, match="job 'x': reddit.query=None"):
        configured_jobs(settings)
    cfg.write_text("jobs:\n  - {name: x, source: twitter}\n")
    with pytest.raises(ValueError, match="source must be one of"):
        configured_jobs(settings)
    cfg.write_text(
        "jobs:\n  - name: hn\n    source: hackernews\n    queries: {Delta: [delta, dl]}\n"
    )
    (job,) = configured_jobs(settings)
    assert [o["brand"] for o in job.source_options()] == ["Delta", "Delta"]
    assert len({s.key for s in job.sources()}) == 2
