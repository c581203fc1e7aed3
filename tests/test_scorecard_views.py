"""Migration 0015 (issue 26): v_brand_scorecard and v_category_scorecard follow the dashboard's
rules: the opinion score needs N opinions, the 7-day trend is not computed against a partial
week and carries its z (checked against opinion.insights.stats.net_change)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from opinion.insights.stats import net_change
from opinion.warehouse import connect

LAST = date(2024, 3, 14)


@pytest.fixture()
def con(tmp_path):
    con = connect(tmp_path / "opinion.duckdb")
    con.execute("INSERT INTO settings_kv VALUES ('min_mentions', '30', now())")
    rows = []
    for i in range(14):  # Acme: 14 days of data; the latest week much better than the one before
        day = LAST - timedelta(days=i)
        pos, neg = (8, 2) if i < 7 else (3, 7)
        rows.append(("Acme", "booking", "fares", day, 12, pos, neg, 2))
        rows.append(("Acme", "seat", "legroom", day, 6, 1, 0, 5))  # 84 mentions, 14 opinions
    for i in list(range(7)) + [8, 9]:  # Bolt: the week before has data on 2 days only
        rows.append(("Bolt", "booking", "fares", LAST - timedelta(days=i), 20, 10, 8, 2))
    con.executemany(
        "INSERT INTO agg_daily (brand, touchpoint, category, cx_domain, day, mentions, positive, "
        "negative, neutral) VALUES (?, ?, ?, 'experience', ?, ?, ?, ?, ?)",
        rows,
    )
    yield con
    con.close()


def _row(con, view, brand, touchpoint):
    cur = con.execute(f"SELECT * FROM {view} WHERE brand = ? AND touchpoint = ?",
                      [brand, touchpoint])  # fmt: skip
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def test_opinion_score_needs_opinions_not_mentions(con):
    seat = _row(con, "v_brand_scorecard", "Acme", "seat")
    assert seat["mentions"] == 84 and seat["opinions"] == 14
    assert seat["sufficient"] and seat["net_sentiment"] is not None
    assert seat["opinion_score"] is None and seat["opinion_low"] is None
    assert seat["score_sufficient"] is False
    cat = _row(con, "v_category_scorecard", "Acme", "seat")
    assert cat["opinion_score"] is None and cat["net_sentiment"] is not None
    assert cat["score_sufficient"] is False
    assert _row(con, "v_brand_scorecard", "Acme", "booking")["opinion_score"] is not None


def test_trend_carries_its_z_like_the_dashboard(con):
    r = _row(con, "v_brand_scorecard", "Acme", "booking")
    delta, z, beyond = net_change((56, 14, 84), (21, 49, 84), 30)
    assert r["trend"] == pytest.approx(delta) and r["trend_z"] == pytest.approx(z)
    assert r["trend_beyond"] is beyond is True and r["trend_note"] is None


def test_no_trend_against_a_partial_week(con):
    r = _row(con, "v_brand_scorecard", "Bolt", "booking")
    assert r["mentions"] == 180  # both weeks reach the minimum sample (140 and 40 mentions)
    assert r["trend"] is None and r["trend_z"] is None and r["trend_beyond"] is False
    assert r["trend_note"].startswith("not compared: the previous 7 days have data on 2 of the 7")
