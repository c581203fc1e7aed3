"""`opinion bench` reports what users see: the engine's figures, the naive baseline of the same
run, collect's privacy step, and the `collect` / `extract` commands' own posts/s. Figures
are checked for presence and consistency only: speed is never asserted in a test."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from opinion.cli import main


@pytest.fixture(scope="module")
def bench_result(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("OPINION_STATE", str(tmp_path_factory.mktemp("state")))
    args = ["bench", "--limit", "60", "--naive-limit", "6", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_engine_and_baseline_in_one_run(bench_result):
    r = bench_result
    assert r["posts"] == 60 and r["naive_posts"] == 6
    assert r["posts_per_s"] > 0 and r["naive_posts_per_s"] > 0
    assert r["speedup"] == pytest.approx(r["posts_per_s"] / r["naive_posts_per_s"], rel=0.02)
    assert r["peak_rss_mb"] > 100 and r["privacy_posts_per_s"] > 0


def test_the_commands_users_run_are_timed_on_the_same_tweets(bench_result):
    r = bench_result
    assert r["collect_records"] == 60
    # every collected post is extracted (a near-copy is still a post of the lake)
    assert 0 < r["extract_posts"] <= 60
    assert r["extract_posts_per_s"] == pytest.approx(
        r["extract_posts"] / r["extract_wall_s"], rel=0.05
    )
    assert r["extract_share_of_bench"] == pytest.approx(
        r["extract_posts_per_s"] / r["posts_per_s"], abs=0.01
    )
    assert r["extract_peak_rss_mb"] > 100 and r["collect_peak_rss_mb"] > 100


def test_no_pipeline_skips_the_commands():
    from opinion.bench import run_bench

    r = run_bench(limit=20, naive_limit=2, repeats=1, echo=None, pipeline=False)
    assert "extract_posts_per_s" not in r and r["posts"] == 20
