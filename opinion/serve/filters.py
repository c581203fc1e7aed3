"""Request filters: parsed, validated and whitelisted before any query sees them.

User input never reaches SQL as text: the values below are only ever bound as parameters, and
brand / touchpoint / category must also be one of the values present in the warehouse
(`Catalog`). Anything else becomes a clear message and an empty result, never an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

MAX_LEN = 200  # longer than any real brand/touchpoint/category name; longer input is refused
POLARITIES = ("positive", "negative", "neutral")
GRAINS = ("day", "week")
MAX_DAYS = 3660
MAX_PAGE = 1000


@dataclass(frozen=True)
class Catalog:
    """What the snapshot holds: the whitelist for filters and the data's date range."""

    brands: tuple[str, ...] = ()
    touchpoints: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    min_mentions: int = 30  # the views' minimum sample (v_min_mentions)


@dataclass(frozen=True)
class Filters:
    brand: str | None = None
    touchpoint: str | None = None
    category: str | None = None
    polarity: str | None = None
    start: date | None = None
    end: date | None = None
    grain: str = "day"
    page: int = 1
    days: int | None = None
    problems: tuple[str, ...] = field(default=())  # messages for the user, already safe text
    unknown: bool = False  # a filter named a value the warehouse does not have: show nothing

    def query(self, **override: object) -> str:
        """The query string for these filters (with overrides), for links between pages."""
        f = replace(self, **override)  # type: ignore[arg-type]
        params: list[tuple[str, str]] = []
        for key in ("brand", "touchpoint", "category", "polarity"):
            value = getattr(f, key)
            if value:
                params.append((key, value))
        if f.days:
            params.append(("days", str(f.days)))
        else:
            if f.start:
                params.append(("from", f.start.isoformat()))
            if f.end:
                params.append(("to", f.end.isoformat()))
        if f.grain != "day":
            params.append(("grain", f.grain))
        if f.page != 1:
            params.append(("page", str(f.page)))
        return urlencode(params)


def _short(value: str, n: int = 60) -> str:
    value = "".join(ch if ch.isprintable() else "?" for ch in value)
    return value if len(value) <= n else value[:n] + "…"


def _choice(raw: str | None, allowed: tuple[str, ...], what: str, problems: list[str]):
    """(value, unknown): a whitelisted value, None when absent, unknown=True when not allowed."""
    if raw is None or raw == "":
        return None, False
    if len(raw) <= MAX_LEN and raw in allowed:
        return raw, False
    # match case-insensitively for friendliness ("united" → "United")
    if len(raw) <= MAX_LEN:
        folded = {a.casefold(): a for a in allowed}
        if raw.casefold() in folded:
            return folded[raw.casefold()], False
    problems.append(f"No data for {what} “{_short(raw)}”.")
    return None, True


def _int(raw: str | None, lo: int, hi: int, what: str, problems: list[str]) -> int | None:
    if raw is None or raw == "":
        return None
    # isascii: str.isdigit() also accepts "²" or "①", which int() refuses (was an HTTP 500)
    if len(raw) <= 6 and raw.isascii() and raw.isdigit() and lo <= int(raw) <= hi:
        return int(raw)
    problems.append(f"Ignored {what} “{_short(raw)}” (expected a number {lo}–{hi}).")
    return None


def _date(raw: str | None, what: str, problems: list[str]) -> date | None:
    if raw is None or raw == "":
        return None
    if len(raw) <= 10:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    problems.append(f"Ignored {what} date “{_short(raw)}” (expected YYYY-MM-DD).")
    return None


def parse_period(text: str) -> tuple[date, date]:
    """`FROM:TO` (ISO dates, either side may be empty) for the CLI; ValueError when bad."""
    if ":" not in text:
        raise ValueError(f"--period must be FROM:TO with ISO dates, got {text!r}")
    a, b = text.split(":", 1)
    try:
        start = date.fromisoformat(a) if a else date.min
        end = date.fromisoformat(b) if b else date.max
    except ValueError:
        raise ValueError(f"--period must be FROM:TO with ISO dates, got {text!r}") from None
    if start > end:
        raise ValueError(f"--period starts after it ends: {text!r}")
    return start, end


def resolve_period(
    catalog: Catalog,
    start: date | None,
    end: date | None,
    days: int | None,
) -> tuple[date | None, date | None]:
    """Fill the period from the data's range: `days` counts back from the newest day."""
    if catalog.last_day is None:
        return start, end
    if days:
        end = catalog.last_day if end is None else end
        start = end - timedelta(days=days - 1)
    start = catalog.first_day if start is None or start < catalog.first_day else start
    end = catalog.last_day if end is None or end > catalog.last_day else end
    return start, end


def parse(params, catalog: Catalog, default_brand: str | None = None) -> Filters:
    """Filters from request query parameters (a Mapping of str → str)."""
    problems: list[str] = []
    brand, u1 = _choice(params.get("brand"), catalog.brands, "brand", problems)
    touchpoint, u2 = _choice(params.get("touchpoint"), catalog.touchpoints, "touchpoint", problems)
    category, u3 = _choice(params.get("category"), catalog.categories, "category", problems)
    polarity, u4 = _choice(params.get("polarity"), POLARITIES, "polarity", problems)
    grain = params.get("grain") or "day"
    if grain not in GRAINS:
        problems.append(f"Ignored grain “{_short(grain)}” (day or week).")
        grain = "day"
    page = _int(params.get("page"), 1, MAX_PAGE, "page", problems) or 1
    days = _int(params.get("days"), 1, MAX_DAYS, "days", problems)
    start = _date(params.get("from"), "from", problems)
    end = _date(params.get("to"), "to", problems)
    if start and end and start > end:
        problems.append("The period starts after it ends; showing the whole period.")
        start = end = None
    if brand is None and not u1:
        brand = default_brand
    start, end = resolve_period(catalog, start, end, days if not (start or end) else None)
    return Filters(
        brand=brand,
        touchpoint=touchpoint,
        category=category,
        polarity=polarity,
        start=start,
        end=end,
        grain=grain,
        page=page,
        days=days if days and not params.get("from") and not params.get("to") else None,
        problems=tuple(problems),
        unknown=u1 or u2 or u3 or u4,
    )
