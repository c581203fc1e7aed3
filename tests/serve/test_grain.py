"""Trends default to weekly points over long periods; an explicit grain survives links."""

from datetime import date

from opinion.serve.filters import AUTO_WEEK_DAYS, Catalog, parse

CATALOG = Catalog(brands=("United",), first_day=date(2014, 1, 1), last_day=date(2016, 1, 1))


def test_long_periods_default_to_weeks_and_short_ones_to_days():
    whole = parse({"brand": "United", "from": "2014-01-01", "to": "2016-01-01"}, CATALOG)
    assert whole.grain == "week" and "grain" not in whole.query()
    short = parse({"brand": "United", "days": str(AUTO_WEEK_DAYS)}, CATALOG)
    assert short.grain == "day" and "grain" not in short.query()


def test_an_explicit_grain_is_kept_in_links():
    days = parse(
        {"brand": "United", "from": "2014-01-01", "to": "2016-01-01", "grain": "day"}, CATALOG
    )
    assert days.grain == "day"
    again = parse(dict(p.split("=") for p in days.query(page=2).split("&")), CATALOG)
    assert again.grain == "day"
    weeks = parse({"brand": "United", "days": "7", "grain": "week"}, CATALOG)
    assert weeks.grain == "week" and "grain=week" in weeks.query()


def test_month_quarter_year_grains_are_accepted_and_kept():
    for grain in ("month", "quarter", "year"):
        f = parse({"brand": "United", "days": "30", "grain": grain}, CATALOG)
        assert f.grain == grain and not f.problems and f"grain={grain}" in f.query()
    bad = parse({"brand": "United", "grain": "decade"}, CATALOG)
    assert bad.problems and "month, quarter or year" in bad.problems[0]


def test_periods_and_axis_labels_carry_the_year():
    from opinion.serve.charts import lines, period_label
    from opinion.serve.filters import period_last, period_of
    from opinion.serve.trends import Point

    assert period_of(date(2015, 8, 19), "quarter") == date(2015, 7, 1)
    assert period_last(date(2015, 7, 1), "quarter") == date(2015, 9, 30)
    assert period_last(date(2016, 2, 1), "month") == date(2016, 2, 29)
    assert period_last(date(2015, 12, 1), "month") == date(2015, 12, 31)
    assert period_last(date(2015, 1, 1), "year") == date(2015, 12, 31)
    assert period_label(date(2015, 7, 1), "quarter") == "Q3 2015"
    assert period_label(date(2015, 7, 1), "month") == "Jul 2015"
    months = [date(2014 + m // 12, m % 12 + 1, 1) for m in range(24)]
    svg = str(lines({"baggage": [Point(d, 50, 20, 20, 10) for d in months]},
                    lambda tp, p: None, grain="month"))  # fmt: skip
    assert "Jan 2014" in svg and "2015" in svg and "Feb 17" not in svg
    days = [date(2014, 12, 28 + i) if i < 4 else date(2015, 1, i - 3) for i in range(12)]
    svg = str(lines({"baggage": [Point(d, 50, 20, 20, 10) for d in days]},
                    lambda tp, p: None, grain="day"))  # fmt: skip
    assert "Dec 28 2014" in svg and "Jan 01 2015" in svg  # the year where it changes
