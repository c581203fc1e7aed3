"""Aggregates and views on hand-computed fixtures (real DuckDB, `aggregates.rebuild`)."""

from __future__ import annotations

import math

import pytest

from opinion.insights.issues import poisson_tail, rate_test, severity
from opinion.warehouse.aggregates import RebuildParams, rebuild

from .conftest import add

COMPETITORS = {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B"]}


def one(con, sql, params=None):
    return con.execute(sql, params or []).fetchone()


def test_daily_counts_scores_and_wilson(con):
    add(con, "A", "2015-02-20", {"positive": 8, "negative": 2, "neutral": 2})
    add(con, "A", "2015-02-20", {"negative": 4}, touchpoint="punctuality")
    add(con, "A", "2015-02-20", {"negative": 3}, dup=True)  # duplicates excluded
    add(con, "A", "2015-02-20", {"negative": 3}, spam=0.5)  # spam excluded
    rebuild(con, RebuildParams(min_mentions=30))
    row = one(
        con,
        "SELECT mentions, positive, negative, neutral, net_sentiment, opinion_score, "
        "opinion_low, opinion_high, importance, sufficient FROM agg_daily "
        "WHERE brand = 'A' AND touchpoint = 'baggage'",
    )
    mentions, pos, neg, neu, net, score, low, high, importance, sufficient = row
    assert (mentions, pos, neg, neu) == (12, 8, 2, 2)
    assert net == pytest.approx(100 * (8 - 2) / 12)  # 50.0
    assert score == pytest.approx(0.8)
    # Wilson 95% for 8 of 10, by hand: (0.8 + 0.19208 ∓ 1.96·sqrt(0.016 + 0.009604)) / 1.38416
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert importance == pytest.approx(12 / 16)
    assert sufficient is False
    assert one(con, "SELECT count(*) FROM agg_daily")[0] == 2


def test_minimum_sample_rule(con):
    add(con, "A", "2015-02-20", {"positive": 20, "negative": 9})  # 29 mentions
    rebuild(con, RebuildParams(min_mentions=30))
    net, display, sufficient = one(
        con, "SELECT net_sentiment, display, sufficient FROM v_brand_scorecard"
    )
    assert (net, display, sufficient) == (None, "insufficient data", False)
    assert one(con, "SELECT opinion_score FROM v_category_scorecard")[0] is None
    rebuild(con, RebuildParams(min_mentions=29))
    net, display, sufficient = one(
        con, "SELECT net_sentiment, display, sufficient FROM v_brand_scorecard"
    )
    assert net == pytest.approx(100 * 11 / 29)
    assert display == "+37.9" and sufficient is True


def test_trend_latest_seven_days_minus_seven_before(con):
    add(con, "A", "2015-02-01", {"positive": 3, "negative": 1})  # prior window: net +50
    add(con, "A", "2015-02-14", {"positive": 1, "negative": 3})  # latest window: net -50
    rebuild(con, RebuildParams(min_mentions=4))
    assert one(con, "SELECT trend FROM v_brand_scorecard")[0] == pytest.approx(-100.0)


def test_competitor_gap_and_separation(con):
    add(con, "A", "2015-02-20", {"positive": 90, "negative": 10})
    add(con, "B", "2015-02-20", {"positive": 20, "negative": 30})
    add(con, "C", "2015-02-20", {"positive": 30, "negative": 70})
    rebuild(con, RebuildParams(min_mentions=30, competitors=COMPETITORS))
    assert one(con, "SELECT count(*) FROM brand_competitors")[0] == 6
    row = one(
        con,
        "SELECT net_sentiment, competitor_mentions, competitor_net_sentiment, "
        "competitor_opinion_score, gap, separated, sufficient "
        "FROM v_competitor_benchmark WHERE brand = 'A'",
    )
    net, c_mentions, c_net, c_score, gap, separated, sufficient = row
    assert net == pytest.approx(80.0)
    assert c_mentions == 150
    assert c_net == pytest.approx(100 * (50 - 100) / 150)  # pooled B + C
    assert c_score == pytest.approx(50 / 150)
    assert gap == pytest.approx(80.0 - c_net)
    assert separated is True and sufficient is True
    # B vs A+C: B 20/50 = 0.40 [0.28, 0.54]; A+C 120/200 = 0.60 [0.53, 0.67] → overlap
    assert one(con, "SELECT separated FROM v_competitor_benchmark WHERE brand = 'B'")[0] is False


def test_share_of_voice_rollups_and_ratings(con):
    add(con, "A", "2015-02-20", {"positive": 3, "negative": 1})
    add(con, "B", "2015-02-20", {"negative": 4}, touchpoint="check_in", category="check_in")
    add(con, "B", "2015-02-20", {"positive": 4})
    add(con, "A", "2015-02-21", {"positive": 1}, rating=5)
    add(con, "A", "2015-02-21", {"positive": 1}, rating=4)
    add(con, "A", "2015-02-21", {"negative": 2}, rating=1)
    rollups = {"reliability": ["baggage"], "functionality": ["check_in"]}
    rebuild(con, RebuildParams(min_mentions=1, rollups=rollups))
    sov = dict(
        con.execute(
            "SELECT brand, share FROM v_share_of_voice WHERE touchpoint = 'baggage'"
        ).fetchall()
    )
    assert sov == {"A": pytest.approx(8 / 12), "B": pytest.approx(4 / 12)}
    r = one(con, "SELECT mentions, net_sentiment FROM v_rollups WHERE brand = 'B' "
            "AND rollup = 'functionality'")  # fmt: skip
    assert r == (4, -100.0)
    ratings = one(
        con,
        "SELECT ratings, promoters, passives, detractors, nps, satisfaction_index "
        "FROM v_rating_indices",
    )
    assert ratings[:4] == (4, 1, 1, 2)
    assert ratings[4] == pytest.approx(100 * (1 - 2) / 4)
    assert ratings[5] == pytest.approx((100 + 75 + 0 + 0) / 4)


def test_category_fold_below_min_share(con):
    add(con, "A", "2015-02-20", {"positive": 99}, category="baggage")
    add(con, "A", "2015-02-20", {"negative": 1}, category="lost_tags")
    rebuild(con, RebuildParams(min_mentions=1, min_share=0.02))
    cats = {r[0] for r in con.execute("SELECT category FROM v_category_scorecard").fetchall()}
    assert cats == {"baggage", "other"}


def _series(con, brand, category, negatives_per_day):
    for d, n in enumerate(negatives_per_day):
        add(con, brand, f"2015-02-{10 + d:02d}", {"negative": n, "positive": 2},
            touchpoint=category, category=category)  # fmt: skip


def test_emerging_issue_spike_flagged_flat_not(con):
    _series(con, "A", "baggage", [4, 5, 3, 4, 5, 4, 4, 30])  # spike on the last day
    _series(con, "A", "punctuality", [6, 6, 6, 6, 6, 6, 6, 6])  # flat
    rebuild(con, RebuildParams(min_mentions=10))
    rows = con.execute(
        "SELECT category, negatives, baseline_mean, baseline_windows, p_value, severity, "
        "persistence FROM v_emerging_issues"
    ).fetchall()
    assert [r[0] for r in rows] == ["baggage"]
    _, neg, expected, windows, p, sev, run = rows[0]
    # windows end at the newest post (day 8, 12:00): the last window holds day 8 only,
    # the 7 windows before it days 1..7 (whole windows inside the data: 7 → baseline 6 + latest)
    # baggage's rate is per mention of the brand's other categories (punctuality: 8 a day)
    base_neg = 5 + 3 + 4 + 5 + 4 + 4
    assert neg == 30
    assert windows == 6
    assert expected == pytest.approx(base_neg * 8 / (6 * 8))
    assert p == pytest.approx(rate_test(30, 8, base_neg, 6 * 8))
    assert p < 1e-4  # one window is enough at this strength (persistence rule)
    assert sev == severity(p) and 1 <= sev <= 10
    assert run == 1
    flat = one(con, "SELECT flagged, p_value FROM issue_windows WHERE category = 'punctuality' "
               "AND is_latest")  # fmt: skip
    assert flat[0] is False and flat[1] > 0.3


def test_poisson_tail_and_severity_by_hand():
    assert poisson_tail(3, 3.0) == pytest.approx(1 - math.exp(-3) * (1 + 3 + 4.5))
    assert poisson_tail(0, 2.0) == 1.0
    assert poisson_tail(5, 0.5) == pytest.approx(0.000172, rel=1e-2)
    assert severity(0.01) == 1 and severity(1e-4) == 2 and severity(1e-40) == 10
