"""No secret reaches the lake, the logs or an error message; the CLI speaks one line."""

from __future__ import annotations

import json
import logging

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import Resp
from sourcesim import REDDIT_SECRET, REDDIT_TOKEN, BlueskySim, Item, RedditSim

from opinion.collect.jobs import collect_source
from opinion.sources.errors import TerminalError
from opinion.sources.registry import build_source

BSKY_PASSWORD = "bsky-app-pass-9f8e-7d6c"
BSKY_JWT = "eyJhbGciOiJIUzI1NiJ9.access-jwt-secret-part"


def everything_written(root) -> str:
    chunks = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        chunks.append(path.read_bytes().decode("utf-8", "replace"))
        if path.suffix == ".parquet":  # compressed on disk: read the values too
            chunks.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
    return "\n".join(chunks)


def test_secrets_never_written_or_logged(api, settings, client, monkeypatch, caplog):
    monkeypatch.setenv("REDDIT_CLIENT_ID", "client-id-123")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", REDDIT_SECRET)
    monkeypatch.setenv("BLUESKY_IDENTIFIER", "alice.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", BSKY_PASSWORD)
    tries = []

    def session(req):
        tries.append(req)
        if len(tries) == 1:  # a server that echoes the password in its error
            return Resp(401, {"error": "AuthenticationRequired", "message": req.body.decode()})
        return Resp(200, {"accessJwt": BSKY_JWT, "refreshJwt": BSKY_JWT + "r", "did": "did:x"})

    api.route("/xrpc/com.atproto.server.createSession", session)
    items = [Item(k, f"Delta flight {k}, token {REDDIT_TOKEN}?") for k in range(1, 5)]
    reddit, bsky = RedditSim(api, items, malformed={1}), BlueskySim(api, items, malformed={1})
    reddit.install()
    bsky.install()
    caplog.set_level(logging.DEBUG)
    errors = []
    with pytest.raises(TerminalError) as err:
        collect_source(settings, build_source("bluesky", client=client, auth_url=api.url,
                                              **bsky.options()))  # fmt: skip
    errors.append(str(err.value))
    reports = [
        collect_source(settings, build_source("bluesky", client=client, auth_url=api.url,
                                              **bsky.options())),
        collect_source(settings, build_source("reddit", client=client, **reddit.options())),
    ]  # fmt: skip
    assert all(r["posts"] == 2 and r["rejected"] == 1 for r in reports)
    haystack = "\n".join(
        [everything_written(settings.lake_dir), caplog.text, json.dumps(reports), *errors]
    )
    for secret in (REDDIT_SECRET, BSKY_PASSWORD, BSKY_JWT):
        assert secret not in haystack
    assert "Delta flight" in haystack  # the grep did see the collected posts


def run_cli(*args, env=None):
    from opinion.cli import main

    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_collect_connector_and_errors(api, tmp_path):
    from sourcesim import HackerNewsSim

    HackerNewsSim(api, [Item(k, f"Delta {k}") for k in range(1, 4)], page_size=100).install()
    lake_dir = str(tmp_path / "lake")
    res = run_cli("collect", "hackernews", "--base-url", api.url, "--query", "delta",
                  "--since", "2024-01-01", "--brand", "Delta", "--lake", lake_dir)  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["posts"] == 3 and report["source"] == "hackernews", res.output
    bad = run_cli("collect", "hackernews", "--query", "delta", "--limit", "0", "--lake", lake_dir)
    assert bad.exit_code != 0 and "--limit" in bad.output
    bad = run_cli("collect", "mastodon", "--lake", lake_dir)
    assert bad.exit_code == 1 and bad.output.strip().startswith("Error: mastodon.query=None")
    bad = run_cli("collect", "nowhere", "--lake", lake_dir)
    assert bad.exit_code == 2 and "unknown source" in bad.output


def test_cli_airline_demo_and_job_give_the_same_lake(tmp_path, monkeypatch):
    import csv

    from opinion.config import REPO_ROOT

    demo = REPO_ROOT / "data" / "demo" / "airline_tweets.csv"
    sliced = tmp_path / "slice.csv"
    with demo.open(newline="", encoding="utf-8") as src, sliced.open("w", newline="") as dst:
        writer = csv.writer(dst)
        for i, row in enumerate(csv.reader(src)):
            if i > 40:
                break
            writer.writerow(row)
    config = tmp_path / "opinion.yaml"
    config.write_text(
        "jobs:\n  - name: airline_tweets\n    source: files\n    options:\n"
        f"      path: {sliced}\n      name: airline_tweets\n"
        "      mapping: AIRLINE_TWEETS\n      url_template: TWEET_URL\n"
    )
    monkeypatch.setenv("OPINION_CONFIG", str(config))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    res_a = run_cli("collect", "airline-demo", "--path", str(sliced), "--lake", a)
    res_b = run_cli("collect", "--job", "airline_tweets", "--lake", b)
    res_all = run_cli("collect", "all", "--lake", b)
    assert res_a.exit_code == res_b.exit_code == res_all.exit_code == 0, res_b.output
    ra = json.loads(res_a.output.strip().splitlines()[-1])
    (rb,) = json.loads(res_b.output.strip().splitlines()[-1])["jobs"]
    (rall,) = json.loads(res_all.output.strip().splitlines()[-1])["jobs"]
    assert ra["source"] == rb["source"] == "airline_tweets" and ra["posts"] == rb["posts"] == 40
    assert rall["pages"] == 0  # unchanged file: nothing to do

    def rows(root):
        out = {}
        for p in sorted((tmp_path / root / "raw").rglob("*.parquet")):
            for r in pq.read_table(p).to_pylist():
                r.pop("collected_at")
                out[r["post_id"]] = r
        return out

    assert rows("a") == rows("b") and all(r["url"] for r in rows("a").values())
