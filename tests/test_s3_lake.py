"""collect → extract → load through a lake on S3 (a real moto server on 127.0.0.1) gives the
same warehouse as a local lake: the multi-machine path of the Airflow cluster, in `make test`."""

from __future__ import annotations

import duckdb
import httpx
import pytest

from opinion.collect.partitions import collect_file
from opinion.demo import DEMO_SOURCE
from opinion.extract.stage import extract
from opinion.sources.files import AIRLINE_TWEETS, TWEET_URL, FileSourceConfig
from opinion.warehouse.load import run_load as load
from tests.s3server import moto_server

DIGESTS = {
    "posts": "SELECT count(*) FROM posts",
    "mentions": "SELECT count(*) FROM mentions",
    "posts_digest": "SELECT md5(string_agg(post_id || coalesce(sentiment, '-') || author_hash,"
    " ',' ORDER BY post_id)) FROM posts",
    "mentions_digest": "SELECT md5(string_agg(mention_id || polarity, ',' ORDER BY mention_id))"
    " FROM mentions",
}


def _digests(path) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        return {k: con.execute(sql).fetchall()[0][0] for k, sql in DIGESTS.items()}


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPINION_S3_ENDPOINT_URL", url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        assert httpx.put(f"{url}/opinion-test").status_code == 200
        yield url


def _run(settings, corpus, engine):
    cfg = FileSourceConfig(corpus, DEMO_SOURCE, AIRLINE_TWEETS, TWEET_URL)
    return collect_file(settings, cfg), extract(settings, engine), load(settings)


def test_collect_extract_load_through_s3_equals_local(s3_endpoint, tmp_path, engine, demo_slice):
    from opinion.config import Settings
    from opinion.lake import storage

    corpus = demo_slice(tmp_path / "slice.csv", 300, start=5000)
    remote = Settings.from_env(
        lake_dir="s3://opinion-test/lake",
        warehouse=tmp_path / "s3wh" / "opinion.duckdb",
        state_dir=tmp_path / "s3state",
    )
    assert storage.is_remote(remote.lake_dir)
    local = Settings.from_env(
        lake_dir=tmp_path / "lake",
        warehouse=tmp_path / "wh" / "opinion.duckdb",
        state_dir=tmp_path / "state",
    )
    collected, extracted, loaded = _run(remote, corpus, engine)
    assert collected.posts > 250 and collected.partitions_written > 0
    assert extracted.partitions == collected.partitions_written and extracted.mentions > 0
    # the partitions really are in the bucket, not on local disk
    listing = httpx.get(f"{s3_endpoint}/opinion-test?list-type=2&prefix=lake/raw/").text
    assert f"source={DEMO_SOURCE}" in listing and ".parquet" in listing
    _run(local, corpus, engine)
    assert _digests(remote.warehouse) == _digests(local.warehouse)

    # a second run over the same S3 lake changes nothing: re-running a stage is safe
    again = _run(remote, corpus, engine)
    assert again[0].partitions_written == 0 and again[1].partitions == 0
    assert _digests(remote.warehouse) == _digests(local.warehouse)

    # the load-lag check reads an S3 lake too: nothing waits after the load; a partition the
    # warehouse has not loaded is seen with its LastModified (opinion_load's freshness task)
    from opinion.health import backlog, check_load_lag

    assert check_load_lag(remote, max_hours=0)["unloaded_partitions"] == 0
    part = next(iter(remote.lake.list_partitions("mentions")))
    copy = remote.lake.partition_path("mentions", part.source, "2099-01-01")
    for name in ("mentions", "posts"):  # a partition extract wrote and no load has seen
        (copy / f"{name}.parquet").write_bytes(part.file(name).read_bytes())
    waiting = backlog(remote)
    assert waiting.known and waiting.partitions == [f"mentions/source={part.source}/day=2099-01-01"]
    assert waiting.oldest_written is not None
