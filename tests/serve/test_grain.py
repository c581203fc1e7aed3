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
