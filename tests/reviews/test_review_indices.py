"""Review indices (NPS-style, CSI, share recommending) computed in the warehouse views, checked
against the formulas by hand on reviews inserted into a real DuckDB file."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from itertools import count

import pytest

from opinion.warehouse import connect

_ids = count()


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "w.duckdb")
    yield c
    c.close()


def review(con, brand, day, value, scale, recommended=None, touchpoints=(), dup=False, spam=0.0):
    """One review post (rating on `scale`), with one mention per named touchpoint."""
    i = next(_ids)
    pid = f"r{i}"
    low, high = (float(x) for x in scale.split("-")) if scale else (1.0, 5.0)
    norm = None if value is None else (value - low) / (high - low)
    con.execute(
        "INSERT INTO posts (post_id, source, brand, created_at, text, rating_value, rating_scale,"
        " rating_norm, rating, recommended, spam_score, dup_of, lake_partition, loaded_at)"
        " VALUES (?, 'reviews', ?, ?, 'body', ?, ?, ?, ?, ?, ?, ?, 'x', now())",
        [pid, brand, datetime.fromisoformat(day).replace(tzinfo=UTC), value, scale, norm,
         None if norm is None else int(1 + 4 * norm + 0.5), recommended, spam,
         "r0" if dup else None],
    )  # fmt: skip
    for n, tp in enumerate(touchpoints):
        con.execute(
            "INSERT INTO mentions (mention_id, post_id, term, aspect, polarity, touchpoint,"
            " loaded_at) VALUES (?, ?, 't', 't', 'neutral', ?, now())",
            [f"{pid}m{n}", pid, tp],
        )


def set_min(con, n):
    con.execute("INSERT OR REPLACE INTO settings_kv VALUES ('min_mentions', ?, now())", [str(n)])


def nps_ci(p, d, n):
    nps = 100 * (p - d) / n
    hw = 100 * 1.96 * math.sqrt(((p + d) / n - ((p - d) / n) ** 2) / n)
    return nps, max(-100, nps - hw), min(100, nps + hw)


COLS = (
    "ratings, promoters, passives, detractors, nps, nps_low, nps_high, csi, csi_low, csi_high, "
    "recommendations, recommending, share_recommending, recommending_low, recommending_high, "
    "sufficient"
)


def test_nps_csi_and_recommending_on_a_1_to_10_scale(con):
    set_min(con, 3)
    values = [10, 9, 8, 7, 6, 1, 9, 10]  # 4 promoters, 2 passives, 2 detractors
    recs = [True, True, True, False, False, False, True, None]
    for v, r in zip(values, recs, strict=True):
        review(con, "A", "2024-03-05", v, "1-10", r, touchpoints=("cabin_crew",) if v >= 9 else ())
    review(con, "A", "2024-03-06", 1, "1-10", False, dup=True)  # duplicates never count
    review(con, "A", "2024-03-06", 1, "1-10", False, spam=0.9)  # nor spam
    row = con.execute(
        f"SELECT {COLS} FROM v_review_indices WHERE brand = 'A' AND touchpoint = 'all'"
        " AND grain = 'month'"
    ).fetchall()
    assert len(row) == 1
    r = row[0]
    assert r[:4] == (8, 4, 2, 2)
    nps, lo, hi = nps_ci(4, 2, 8)
    assert r[4:7] == pytest.approx((nps, lo, hi))
    norms = [(v - 1) / 9 for v in values]
    mean = sum(norms) / 8
    sd = math.sqrt(sum((x - mean) ** 2 for x in norms) / 7)
    assert r[7] == pytest.approx(100 * mean)
    assert r[8] == pytest.approx(max(0, 100 * (mean - 1.96 * sd / math.sqrt(8))))
    assert r[9] == pytest.approx(min(100, 100 * (mean + 1.96 * sd / math.sqrt(8))))
    assert r[10:13] == (7, 4, pytest.approx(4 / 7))
    assert r[13] < 4 / 7 < r[14] and r[15] is True
    crew = con.execute(
        f"SELECT {COLS} FROM v_review_indices WHERE brand = 'A' AND touchpoint = 'cabin_crew'"
        " AND grain = 'month'"
    ).fetchall()[0]
    assert crew[:4] == (4, 4, 0, 0) and crew[4] == pytest.approx(100.0)


def test_scale_mappings(con):
    set_min(con, 1)
    for v in (5, 4, 3, 1):  # 1-5 stars: 5 promoter, 4 passive, 1-3 detractor
        review(con, "S", "2024-01-01", v, "1-5")
    for v in (0, 6, 7, 9):  # 0-10: ≤6 detractor, 7-8 passive, 9-10 promoter
        review(con, "Z", "2024-01-01", v, "0-10")
    got = dict(
        (b, (p, pa, d))
        for b, p, pa, d in con.execute(
            "SELECT brand, promoters, passives, detractors FROM v_review_indices "
            "WHERE touchpoint = 'all' AND grain = 'month'"
        ).fetchall()
    )
    assert got == {"S": (1, 1, 2), "Z": (1, 1, 2)}


def test_min_sample_rule_hides_small_samples(con):
    for v in (9, 10, 2):
        review(con, "B", "2024-02-01", v, "1-10", True)
    r = con.execute(
        f"SELECT {COLS}, recommending_sufficient FROM v_review_indices WHERE brand = 'B'"
    ).fetchall()[0]
    assert r[0] == 3 and r[4] is None and r[7] is None and r[12] is None
    assert r[15] is False and r[16] is False  # default N = 30 (v_min_mentions)


def test_period_macro_and_months(con):
    set_min(con, 1)
    review(con, "C", "2024-01-10", 10, "1-10", True)
    review(con, "C", "2024-02-10", 1, "1-10", False)
    months = con.execute(
        "SELECT period_start, nps FROM v_review_indices WHERE brand = 'C' AND touchpoint = 'all' "
        "AND grain = 'month' "
        "ORDER BY 1"
    ).fetchall()
    assert months == [(date(2024, 1, 1), 100.0), (date(2024, 2, 1), -100.0)]
    whole = con.execute(
        "SELECT ratings, nps FROM review_indices(DATE '2024-01-01', DATE '2024-12-31') "
        "WHERE brand = 'C' AND touchpoint = 'all'"
    ).fetchall()
    assert whole == [(2, 0.0)]
    jan = con.execute(
        "SELECT ratings FROM review_indices(DATE '2024-01-01', DATE '2024-01-31') WHERE brand = 'C'"
    ).fetchall()
    assert jan == [(1,)]


def test_rows_loaded_before_0004_count_as_stars(con):
    set_min(con, 1)
    con.execute(
        "INSERT INTO posts (post_id, source, brand, created_at, text, rating, lake_partition,"
        " loaded_at) VALUES ('old', 's', 'D', TIMESTAMPTZ '2024-01-01 00:00:00+00', 't', 5, 'x',"
        " now())"
    )
    r = con.execute(
        "SELECT ratings, promoters, csi FROM v_review_indices WHERE brand = 'D' AND grain = 'month'"
    ).fetchall()
    assert r == [(1, 1, 100.0)]
