"""Honest comparisons (issue 26, findings 2-4 and 8): the opinion score's minimum sample counts
opinions, a partial previous period is not compared (and the page says why), arrows only for
changes beyond chance, never "-0", the competitor gap tested with the statistic it shows, and
"other" never in "fix first"."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from opinion.config import Settings
from opinion.insights.stats import comparable, net_change
from opinion.serve.app import create_app
from opinion.serve.competitors import Benchmark
from opinion.serve.scorecard import Score


@pytest.fixture(scope="module")
def client(ui_warehouse):
    return TestClient(create_app(Settings.from_env(warehouse=ui_warehouse)))


def test_opinion_score_sample_counts_opinions_not_mentions():
    seat = Score("seat", mentions=33, positive=6, negative=12, neutral=15, min_mentions=30)
    assert seat.sufficient and not seat.score_sufficient  # Virgin America › seat: 18 opinions
    assert Score("x", 40, 20, 10, 10, min_mentions=30).score_sufficient


def test_partial_previous_period_is_not_compared():
    assert comparable(7, 1) and "1 of the 7 days" in comparable(7, 1)
    assert comparable(7, 6) is None and comparable(10, 8) is None and comparable(10, 7)


def test_overview_says_why_a_partial_week_is_not_compared(client):
    r = client.get("/", params={"brand": "United", "days": "7"})
    assert r.status_code == 200
    assert "not compared: the previous period has data on" in r.text
    assert "beyond chance</strong>" not in r.text.split('id="kpi-change"')[1][:400]


def test_arrows_only_beyond_chance_and_never_minus_zero():
    small = Score("t", 60, 20, 20, 20, trend=-12.0, min_mentions=30)
    small.trend_z = -1.1
    assert small.arrow == "▶" and small.trend_word == "no change beyond chance (-12 pts)"
    big = Score("t", 600, 200, 200, 200, trend=-12.0, min_mentions=30)
    big.trend_z = -3.0
    assert big.arrow == "▼" and big.trend_word.startswith("worsening (-12 pts, z -3.0")
    tiny = Score("t", 60, 20, 20, 20, trend=-0.3, min_mentions=30)
    tiny.trend_z = -0.1
    assert "-0" not in tiny.trend_word and "(0 pts)" in tiny.trend_word


def test_competitor_gap_is_tested_with_the_statistic_shown():
    brand = Score("United", 400, 160, 112, 128, min_mentions=30)
    pooled = Score("others", 4000, 1320, 1600, 1080, min_mentions=30)
    bm = Benchmark("check_in", brand, [], pooled)
    _, z, beyond = net_change((160, 112, 400), (1320, 1600, 4000), 30)
    assert bm.gap == pytest.approx(brand.net - pooled.net) and bm.z == pytest.approx(z)
    assert bm.separated == beyond is True  # beyond chance on net sentiment: a clear lead


def test_other_is_never_in_fix_first(client):
    r = client.get("/map", params={"brand": "United"})
    fix = re.search(r'id="fix-first".*?</(?:ol|ul|table)>', r.text, re.S)
    assert fix is None or ">other<" not in fix.group(0) and "Other" not in fix.group(0)
