"""Migration 0012 (issue 26) on a real warehouse file: trends and review indices at every grain,
the alert history and the drivers from ratings, checked against numbers computed here."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from opinion.warehouse import connect

NOW = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture()
def rated(tmp_path):
    """400 rated reviews of one brand over two years; the rating depends on the `seat`
    sentiment (strongly) and on `food` (not at all); `wifi` has too few opinions."""
    rng = random.Random(7)
    con = connect(tmp_path / "opinion.duckdb")
    con.execute("INSERT INTO settings_kv VALUES ('min_mentions', '30', now())")
    posts, mentions, truth = [], [], []
    for i in range(400):
        pid = f"p{i}"
        day = date(2022, 1, 1) + timedelta(days=i * 730 // 400)
        seat = rng.choice((-1, 0, 1))
        food = rng.choice((-1, 0, 1))
        wifi = rng.choice((-1, 1)) if i < 20 else 0
        rating = min(10, max(1, round(5.5 + 3 * seat + rng.gauss(0, 1))))
        truth.append(((rating - 1) / 9 * 100, seat, food))
        posts.append((pid, "reviews", "Acme", datetime(day.year, day.month, day.day, 12,
                      tzinfo=UTC), "text", rating, "1-10", (rating - 1) / 9, "x", NOW))  # fmt: skip
        for cat, s in (("seat", seat), ("food", food), ("wifi", wifi)):
            if s:
                pol = "positive" if s > 0 else "negative"
                mentions.append((f"{pid}-{cat}", pid, cat, "cabin", pol, NOW))
    con.executemany(
        "INSERT INTO posts (post_id, source, brand, created_at, text, rating_value, "
        "rating_scale, rating_norm, lake_partition, loaded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        posts,
    )
    con.executemany(
        "INSERT INTO mentions (mention_id, post_id, category, touchpoint, polarity, loaded_at) "
        "VALUES (?,?,?,?,?,?)",
        mentions,
    )
    yield con, truth
    con.close()


def test_rating_drivers_match_an_independent_regression(rated):
    con, truth = rated
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT category, n, opinions, slope, slope_low, slope_high, sufficient "
            "FROM v_rating_drivers WHERE brand = 'Acme'"
        ).fetchall()
    }
    y = np.array([t[0] for t in truth])
    for k, cat in ((1, "seat"), (2, "food")):
        x = np.array([t[k] for t in truth], dtype=float)
        slope, intercept = np.polyfit(x, y, 1)
        resid = y - (slope * x + intercept)
        se = np.sqrt(resid @ resid / (len(y) - 2) / ((x - x.mean()) @ (x - x.mean())))
        n, opinions, s, lo, hi, ok = rows[cat]
        assert n == 400 and opinions == int(np.count_nonzero(x)) and ok
        assert s == pytest.approx(slope) and lo == pytest.approx(slope - 1.96 * se)
        assert hi == pytest.approx(slope + 1.96 * se)
    assert rows["seat"][2] > 25  # a strong driver: its interval is far from 0 ...
    assert rows["seat"][3] > 0
    assert rows["food"][3] < 0 < rows["food"][4]  # ... an unrelated one straddles 0
    wifi = rows["wifi"]  # 20 opinions < 30: counted, never shown
    assert wifi[1] == 20 and wifi[2] is None and wifi[3] is None and wifi[5] is False


def test_review_indices_per_quarter_and_year(rated):
    con, truth = rated
    years = dict(
        con.execute(
            "SELECT year(period_start), ratings FROM v_review_indices "
            "WHERE grain = 'year' AND touchpoint = 'all'"
        ).fetchall()
    )
    assert years == {2022: 200, 2023: 200}
    quarters = con.execute(
        "SELECT count(*), sum(ratings) FROM v_review_indices "
        "WHERE grain = 'quarter' AND touchpoint = 'all'"
    ).fetchone()
    assert quarters == (8, 400)
    months = con.execute(
        "SELECT count(*) FROM v_review_indices WHERE grain = 'month' AND touchpoint = 'all'"
    ).fetchone()[0]
    assert months == 24


def test_touchpoint_trend_has_every_grain(rated):
    con, _ = rated
    con.execute(
        "INSERT INTO agg_daily (brand, touchpoint, category, cx_domain, day, mentions, positive,"
        " negative, neutral) VALUES ('Acme','cabin','seat','x', DATE '2023-02-03', 40, 30, 5, 5),"
        " ('Acme','cabin','seat','x', DATE '2023-05-09', 10, 2, 2, 6)"
    )
    got = con.execute(
        "SELECT grain, period_start, mentions, days_with_data, opinion_score FROM "
        "v_touchpoint_trend WHERE brand = 'Acme' ORDER BY grain, period_start"
    ).fetchall()
    by = {(g, p): (m, d, s) for g, p, m, d, s in got}
    assert by[("year", date(2023, 1, 1))][:2] == (50, 2)
    assert by[("quarter", date(2023, 4, 1))][0] == 10
    assert by[("month", date(2023, 2, 1))][2] == pytest.approx(30 / 35)
    assert by[("quarter", date(2023, 4, 1))][2] is None  # 4 opinions: below the minimum


def test_alert_history_keeps_earlier_flagged_windows(rated):
    con, _ = rated
    rows = []
    for k in range(4):
        end = NOW - timedelta(days=k)
        rows.append(("Acme", "cabin", "seat", end - timedelta(days=1), end, 9, 1.0, 5, 3.0,
                     1e-5, k in (0, 2), 3, 1, k == 0))  # fmt: skip
    con.executemany("INSERT INTO issue_windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    hist = con.execute(
        "SELECT window_end, is_latest, data_end FROM v_alert_history ORDER BY window_end DESC"
    ).fetchall()
    assert [h[0] for h in hist] == [NOW, NOW - timedelta(days=2)]
    assert hist[1][1] is False and hist[1][2] == NOW
