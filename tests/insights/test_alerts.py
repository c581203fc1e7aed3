"""Emerging-issue alerts (opinion/insights/issues.py) on hand-built warehouses: coverage,
the rate test, persistence, the bounded horizon and `opinion alerts` on bad input."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from opinion.cli import main
from opinion.insights.issues import IssueParams, _window_counts
from opinion.warehouse.aggregates import RebuildParams, rebuild

from .conftest import add


def day(con, brand: str, date: str, cats: dict[str, tuple[int, int]]) -> None:
    """One day of posts at 12:00 UTC, one mention each: {category: (negatives, positives)}.
    Inserted set-wise (the conftest's `add` goes row by row: too slow for hundreds)."""
    for cat, (neg, pos) in cats.items():
        for polarity, n in (("negative", neg), ("positive", pos)):
            if not n:
                continue
            key = f"{brand}-{date}-{cat}-{polarity}-"
            con.execute(
                "INSERT INTO posts (post_id, source, brand, created_at, text, lake_partition, "
                "loaded_at) SELECT ? || i, 'src', ?, CAST(? AS TIMESTAMPTZ), 'text ' || i, 'x', "
                "now() FROM range(?) t(i)",
                [key, brand, f"{date} 12:00:00+00", n],
            )
            con.execute(
                "INSERT INTO mentions (mention_id, post_id, term, aspect, polarity, category, "
                "touchpoint, cx_domain, loaded_at) SELECT 'm' || ? || i, ? || i, 't', 't', ?, ?, "
                "?, 'success', now() FROM range(?) t(i)",
                [key, key, polarity, cat, cat, n],
            )


def flagged(con, brand: str) -> list[tuple]:
    return con.execute(
        "SELECT category, negatives, baseline_mean, p_value FROM issue_windows "
        "WHERE brand = ? AND flagged ORDER BY category",
        [brand],
    ).fetchall()


def latest(con, brand: str, category: str):
    return con.execute(
        "SELECT negatives, baseline_mean, baseline_windows, p_value, flagged, persistence "
        "FROM issue_windows WHERE brand = ? AND category = ? AND is_latest",
        [brand, category],
    ).fetchone()


def test_american_case_thin_old_windows_are_no_baseline(con):
    # one mention a day for a week, then two full days with flat / falling complaints
    for d in range(10, 15):
        thin = (1, 0) if d == 12 else (0, 1)
        day(con, "American", f"2015-02-{d}", {"inflight": thin})
    for d, punctuality in ((16, 337), (17, 174)):
        cats = {"inflight": (57, 20), "punctuality": (punctuality, 5), "other": (0, 80)}
        day(con, "American", f"2015-02-{d}", cats)
    rebuild(con, RebuildParams())
    assert flagged(con, "American") == []
    # the thin windows are not a baseline: one comparable window is too few to test at all
    row = latest(con, "American", "inflight")
    assert row is None or row[2] < IssueParams().min_baseline_windows


def test_flat_and_falling_complaints_with_full_baseline_do_not_alert(con):
    for d, punct in zip(range(10, 17), (337, 300, 320, 337, 310, 330, 174), strict=True):
        day(con, "American", f"2015-02-{d}", {"inflight": (57, 20), "punctuality": (punct, 5),
                                              "other": (0, 80)})  # fmt: skip
    rebuild(con, RebuildParams())
    assert flagged(con, "American") == []
    inflight = latest(con, "American", "inflight")
    assert inflight[2] >= 3  # tested against comparable windows
    # punctuality's fall lowers the brand's volume, so inflight's *rate* rises; its count
    # (57, as every day) did not: no alert
    assert inflight[0] == 57 and not inflight[4]


def test_a_real_surge_alerts_and_proportional_growth_does_not(con):
    for d in range(10, 17):
        day(con, "S", f"2015-02-{d}", {"baggage": (5, 20), "other": (0, 60)})
        day(con, "G", f"2015-02-{d}", {"baggage": (5, 20), "other": (0, 60)})
    day(con, "S", "2015-02-17", {"baggage": (30, 20), "other": (0, 60)})  # surge
    day(con, "G", "2015-02-17", {"baggage": (10, 40), "other": (0, 120)})  # volume doubled
    rebuild(con, RebuildParams())
    assert [r[0] for r in flagged(con, "S")] == ["baggage"]
    neg, expected, windows, p, is_flagged, run = latest(con, "S", "baggage")
    assert neg == 30 and windows == 6 and p < 1e-4 and is_flagged
    # baseline rate (negatives per mention of the other categories) × this window's 60
    assert expected == pytest.approx(30 * 60 / (6 * 60))
    assert flagged(con, "G") == []  # twice the negatives from twice the mentions: same rate


def test_persistence_one_moderate_window_is_not_an_alert_two_are(con):
    for d in range(8, 16):
        day(con, "P", f"2015-02-{d:02d}", {"baggage": (5, 20), "other": (0, 60)})
        day(con, "Q", f"2015-02-{d:02d}", {"baggage": (5, 20), "other": (0, 60)})
    day(con, "P", "2015-02-16", {"baggage": (5, 20), "other": (0, 60)})
    day(con, "P", "2015-02-17", {"baggage": (14, 20), "other": (0, 60)})
    day(con, "Q", "2015-02-16", {"baggage": (16, 20), "other": (0, 60)})
    day(con, "Q", "2015-02-17", {"baggage": (16, 20), "other": (0, 60)})
    rebuild(con, RebuildParams())
    one = latest(con, "P", "baggage")
    assert 1e-4 < one[3] < 0.01 and one[5] == 1 and not one[4]  # significant once: no alert
    two = latest(con, "Q", "baggage")
    assert two[3] < 0.01 and two[5] == 2 and two[4]  # two windows running: alert


def test_a_post_dated_1970_does_not_widen_the_computation(con):
    for d in range(10, 17):
        day(con, "S", f"2015-02-{d}", {"baggage": (5, 20), "other": (0, 60)})
    add(con, "S", "1970-01-01", {"negative": 1}, touchpoint="baggage", category="baggage")
    rebuild(con, RebuildParams())
    count, first = con.execute("SELECT count(*), min(window_start) FROM issue_windows").fetchone()
    # windows stop at the bounded horizon (history + lookback), never reach back to 1970
    p = IssueParams()
    assert first.year == 2015
    assert count <= 2 * p.history_windows  # two categories
    horizon = p.history_windows + p.lookback_windows
    volume, _ = _window_counts(con, p, *con.execute(
        "SELECT epoch_us(max(created_at)), ? FROM posts", [horizon]).fetchone())  # fmt: skip
    assert max(volume["S"]) < horizon and 1970 not in volume["S"]


def test_alerts_cli_unknown_brand_is_one_line_non_zero(con, tmp_path):
    day(con, "S", "2015-02-10", {"baggage": (5, 20)})
    rebuild(con, RebuildParams())
    con.close()
    path = str(tmp_path / "w.duckdb")
    result = CliRunner().invoke(main, ["alerts", "--brand", "Nope", "--warehouse", path])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Nope" in lines[0] and "Traceback" not in result.output
    ok = CliRunner().invoke(main, ["alerts", "--brand", "S", "--warehouse", path])
    assert ok.exit_code == 0, ok.output
    assert "alpha 0.01" in ok.output and ">= 5 negatives" in ok.output  # the rule is stated


def test_min_volume_precedence(con):
    """IssueParams.min_volume wins; else the rebuild's minimum sample; else the default 30."""
    from opinion.insights.issues import detect

    for d in range(10, 17):
        day(con, "S", f"2015-02-{d}", {"baggage": (5, 5), "other": (0, 10)})  # 20 a day
    assert detect(con, IssueParams()) == []  # 20 < 30: no comparable window
    assert detect(con, IssueParams(), 20)  # the minimum sample lowered to 20
    assert detect(con, IssueParams(min_volume=25), 20) == []  # explicit setting wins
