"""benchmarks/reviews_validity.py: its statistics, its aspect mapping, and the script end to end
(the real pipeline) on a tiny synthetic review file with star ratings."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reviews.synthetic import write_reviews

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "reviews_validity.py"
ASPECTS = {
    "seat_comfort",
    "food_beverages",
    "ground_service",
    "cabin_staff_service",
    "value_for_money",
}


@pytest.fixture(scope="module")
def rv():
    spec = importlib.util.spec_from_file_location("reviews_validity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pearson_and_spearman(rv):
    assert rv.pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert rv.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert rv.pearson([1, 2], [1, 2]) is None and rv.pearson([1, 1, 1], [1, 2, 3]) is None
    x, y = [1.0, 2.0, 4.0, 3.0], [1.0, 3.0, 2.0, 5.0]
    mx, my = sum(x) / 4, sum(y) / 4
    r = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / math.sqrt(
        sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y)
    )
    assert rv.pearson(x, y) == pytest.approx(r)
    assert rv.ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1]
    assert rv.spearman([1, 5, 10, 100], [2, 3, 4, 5]) == pytest.approx(1.0)  # monotone


def test_aspects_use_categories_when_the_pack_has_them(rv):
    coarse = rv.aspect_filters({"inflight", "cabin_crew", "check_in", "booking"})
    assert coarse["seat_comfort"] == ("touchpoint", ["inflight"])
    assert coarse["cabin_staff_service"] == ("category", ["cabin_crew"])
    fine = rv.aspect_filters({"inflight", "seat", "food_drink", "fares_value", "cabin_crew"})
    assert fine["seat_comfort"] == ("category", ["seat"])
    assert fine["food_beverages"] == ("category", ["food_drink"])
    assert fine["value_for_money"] == ("category", ["fares_value"])


def test_script_end_to_end_on_synthetic_reviews(tmp_path):
    reviews, ratings = write_reviews(tmp_path, per_airline=2)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPINION_AUTHOR_SALT": "test-salt"}
    args = [sys.executable, str(SCRIPT), "--reviews", str(reviews), "--ratings", str(ratings)]
    done = subprocess.run(
        [*args, "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1500
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == ASPECTS
    for aspect, r in result.items():
        assert {"pearson", "spearman_airlines"} <= set(r), aspect
    crew = result["cabin_staff_service"]
    assert crew["reviews"] >= 5 and crew["airlines"] == 3
    # the synthetic praise/complaints track the stars: a broken mapping or sign would not
    assert crew["pearson"] > 0.5 and crew["spearman_airlines"] > 0.5
    bad = subprocess.run(
        [*args[:3], str(tmp_path / "missing.csv"), *args[4:], "--json"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0
    assert "file not found" in bad.stderr
