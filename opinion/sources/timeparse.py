"""Timestamps as sources write them, parsed into time-zone-aware UTC datetimes.

Accepted: ISO 8601 (`2015-02-24T11:35:52Z`, offsets, fractions), `2015-02-24 11:35:52 -0800`
(the airline export), Twitter's `Tue Feb 24 11:35:52 +0000 2015`, RFC 2822 (RSS),
`02/24/2015 11:35`, a bare date (also a `datetime.date`: midnight UTC), and Unix epochs in
seconds or milliseconds. A time without a zone is taken as UTC. Anything else raises
`ValueError` with the value in the message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%a %b %d %H:%M:%S %z %Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y-%m-%d",
)


def parse_timestamp(value: object) -> datetime:
    """Parse `value` (str, number, datetime or date) into an aware UTC datetime. A date (a
    Parquet `date32` column) is midnight UTC. Values beyond what a datetime holds (year 9999
    with a negative offset, 1e400) raise ValueError like any other bad value."""
    try:
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, date):
            dt = datetime(value.year, value.month, value.day, tzinfo=UTC)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            dt = _from_epoch(float(value))
        elif isinstance(value, str) and value.strip():
            dt = _from_text(value.strip())
        else:
            raise ValueError(f"missing timestamp: {str(value)[:60]!r}")
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"timestamp out of range: {str(value)[:60]!r} ({exc})") from None


def _from_epoch(seconds: float) -> datetime:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000.0
    if not 0 < seconds < 4102444800:  # before 2100
        raise ValueError(f"epoch out of range: {seconds!r}")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _from_text(text: str) -> datetime:
    if text.replace(".", "", 1).isdigit():
        return _from_epoch(float(text))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"unrecognised timestamp: {text[:60]!r}") from None
