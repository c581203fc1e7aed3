"""Request filters: parsed, validated and whitelisted before any query sees them.

User input never reaches SQL as text: the values below are only ever bound as parameters, and
brand / touchpoint / category must also be one of the values present in the warehouse
(`Catalog`). Anything else becomes a clear message and an empty result, never an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote_plus

MAX_LEN = 200  # longer than any real brand/touchpoint/category name; longer input is refused
POLARITIES = ("positive", "negative", "neutral")
GRAINS = ("day", "week", "month", "quarter", "year")
SORTS = ("newest", "negative", "engaged")  # verbatims: newest, most negative, most engaged
MAX_DAYS = 3660
MAX_PAGE = 1000  # page numbers read by skipping (old links, the other sorts)
MAX_KEYSET_PAGE = 999_999  # a keyset page's number is only shown: it costs nothing
Cursor = tuple[datetime, str]  # (created_at, post_id) of a post: where a keyset page starts


@dataclass(frozen=True)
class Catalog:
    """What the snapshot holds: the whitelist for filters and the data's date range."""

    brands: tuple[str, ...] = ()
    touchpoints: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    min_mentions: int = 30  # the views' minimum sample (v_min_mentions)
    tree: tuple[tuple[str, str], ...] = ()  # (touchpoint, category) pairs, for the drill-down
    newest_post: datetime | None = None  # data freshness: newest eligible post
    last_load: datetime | None = None  # ... and the last load that published
    left_out: tuple[tuple[str, int], ...] = ()  # (reason, posts) of v_exclusions, most first
    busiest: str | None = None  # the brand with the most mentions: the landing brand
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # review attributes present

    def attribute_values(self, name: str) -> tuple[str, ...]:
        return dict(self.attributes).get(name, ())

    @property
    def default_brand(self) -> str | None:
        """The brand a page opens on: the busiest (not the first alphabetically)."""
        return self.busiest or (self.brands[0] if self.brands else None)

    def categories_of(self, touchpoint: str | None) -> tuple[str, ...]:
        """The categories under a touchpoint (all of them without one)."""
        if touchpoint is None:
            return self.categories
        return tuple(sorted({c for t, c in self.tree if t == touchpoint}))


#: Periods longer than this many days default to weekly points on the trends chart (two years
#: of daily points are ~6,600 linked dots and 2 MB of HTML); `grain=day` still asks for days.
AUTO_WEEK_DAYS = 120


def period_of(d: date, grain: str) -> date:
    """The first day of the day / week (Monday) / month / quarter / year holding `d`."""
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    if grain == "quarter":
        return d.replace(month=3 * ((d.month - 1) // 3) + 1, day=1)
    if grain == "year":
        return d.replace(month=1, day=1)
    return d


def period_last(start: date, grain: str) -> date:
    """The last day of the period of `grain` starting on `start`."""
    if grain == "day":
        return start
    if grain == "week":
        return start + timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1) - timedelta(days=1)


def default_grain(start: date | None, end: date | None) -> str:
    """`week` for a period longer than `AUTO_WEEK_DAYS`, else `day`."""
    long = start is not None and end is not None and (end - start).days > AUTO_WEEK_DAYS
    return "week" if long else "day"


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
    aspect: str | None = None  # drill-down below category (bound as text, never whitelisted)
    q: str | None = None  # verbatims text search
    sort: str = "newest"
    since: datetime | None = None  # an exact time window (an alert's), exclusive
    until: datetime | None = None  # ... inclusive
    after: Cursor | None = None  # verbatims (newest sort): the posts older than this one
    before: Cursor | None = None  # ... the posts newer than this one (the previous page)
    vs: tuple[str, ...] = ()  # competitors picked on the page (`?vs=Delta,Southwest`)
    cabin: str | None = None  # review attributes (whitelisted; route: words it contains)
    traveller_type: str | None = None
    route: str | None = None
    verified: str | None = None  # "yes" / "no"
    problems: tuple[str, ...] = field(default=())  # messages for the user, already safe text
    unknown: bool = False  # a filter named a value the warehouse does not have: show nothing

    def query(self, **override: object) -> str:
        """The query string for these filters (with overrides), for links between pages.

        A keyset cursor (`after` / `before`) is written only when passed as an override: it
        belongs to the pager's links, never to a link that changes the filters."""
        # built without dataclasses.replace/urlencode: the trends chart links every point (two
        # years of days x touchpoints: thousands of calls per page)
        if not override.keys() <= _FIELDS:
            raise TypeError(f"unknown filters: {sorted(override.keys() - _FIELDS)}")
        f = _View(self, override)
        params: list[tuple[str, str]] = []
        for key in ("brand", "touchpoint", "category", "aspect", "polarity", "q"):
            value = getattr(f, key)
            if value:
                params.append((key, value))
        if f.since and f.until:
            params.append(("since", f.since.isoformat()))
            params.append(("until", f.until.isoformat()))
        if f.sort != "newest":
            params.append(("sort", f.sort))
        if f.vs:
            params.append(("vs", ",".join(f.vs)))
        for key in ("cabin", "traveller_type", "route", "verified"):
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
        if f.grain != default_grain(f.start, f.end):
            params.append(("grain", f.grain))
        if f.page != 1:
            params.append(("page", str(f.page)))
        for key in ("after", "before"):
            cursor = override.get(key)
            if cursor:
                params.append((key, format_cursor(cursor)))  # type: ignore[arg-type]
        return "&".join(f"{key}={_quote(str(value))}" for key, value in params)


_FIELDS = frozenset(Filters.__dataclass_fields__)


class _View:
    """Filters with overrides, read attribute by attribute (what `Filters.query` needs)."""

    __slots__ = ("_base", "_over")

    def __init__(self, base: Filters, over: dict):
        self._base, self._over = base, over

    def __getattr__(self, name: str):
        over = self._over
        return over[name] if name in over else getattr(self._base, name)


@lru_cache(maxsize=4096)
def _quote(value: str) -> str:
    """`urlencode`'s quoting of one value (brands, dates and touchpoints repeat in every link)."""
    return quote_plus(value)


def format_cursor(cursor: Cursor) -> str:
    """`2015-02-24T08:18:00.000000Z_<post_id>`: the UTC time, then the post id."""
    created, post_id = cursor
    return f"{created.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}_{post_id}"


def _cursor(raw: str | None, what: str, problems: list[str]) -> Cursor | None:
    if raw is None or raw == "":
        return None
    created, _, post_id = raw.partition("_")
    if len(raw) <= MAX_LEN and post_id and post_id.isprintable():
        try:
            value = datetime.fromisoformat(created)
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: an offset beyond year 1 or 9999
            pass
        else:
            return value, post_id
    problems.append(f"Ignored {what} “{_short(raw)}” (not a page link of this dashboard).")
    return None


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


def _moment(raw: str | None, what: str, problems: list[str]) -> datetime | None:
    if raw is None or raw == "":
        return None
    if len(raw) <= 40:
        try:
            value = datetime.fromisoformat(raw)
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
            value.astimezone(UTC)  # an offset past year 1 or 9999 raises here, not later
            return value
        except (ValueError, OverflowError):
            pass
    problems.append(f"Ignored {what} “{_short(raw)}” (expected an ISO timestamp).")
    return None


def _text(raw: str | None, what: str, problems: list[str]) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > MAX_LEN:
        problems.append(f"Ignored {what} (longer than {MAX_LEN} characters).")
        return None
    return "".join(ch for ch in raw if ch.isprintable()).strip() or None


def outside(catalog: Catalog, start: date | None, end: date | None) -> bool:
    """The period misses the loaded data entirely."""
    if catalog.first_day is None or start is None or end is None:
        return False
    return end < catalog.first_day or start > catalog.last_day


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
    if outside(catalog, start, end):
        return start, end  # keep what was asked for: the pages say it holds no data
    start = catalog.first_day if start is None or start < catalog.first_day else start
    end = catalog.last_day if end is None or end > catalog.last_day else end
    return start, end


MAX_VS = 20  # competitors picked at once


def _vs(params, catalog: Catalog, brand: str | None, problems: list[str]) -> tuple[str, ...]:
    """Competitors from `vs=Delta,Southwest` (or repeated `vs=`, what a multi-select sends):
    brands in the warehouse only, the brand itself dropped; unknown names are said, not used."""
    raws = params.getlist("vs") if hasattr(params, "getlist") else [params.get("vs")]
    names = [n.strip() for raw in raws if raw for n in raw[: MAX_LEN * 4].split(",")]
    picked: list[str] = []
    for name in names[:MAX_VS]:
        if not name:
            continue
        value, _ = _choice(name, catalog.brands, "competitor", problems)
        if value and value != brand and value not in picked:
            picked.append(value)
    return tuple(picked)


def _attributes(params, catalog: Catalog, problems: list[str]) -> dict[str, str | None]:
    """Review attributes: cabin and traveller type among the values present, verified yes/no,
    route as words (bound, matched case-insensitively). A value not present is said and
    ignored (the page still shows the rest)."""
    out: dict[str, str | None] = {}
    for key, what in (("cabin", "cabin"), ("traveller_type", "traveller type")):
        out[key], _ = _choice(params.get(key), catalog.attribute_values(key), what, problems)
    out["verified"], _ = _choice(params.get("verified"), ("yes", "no"), "verified", problems)
    out["route"] = _text(params.get("route"), "route", problems)
    return out


def parse(params, catalog: Catalog, default_brand: str | None = None) -> Filters:
    """Filters from request query parameters (a Mapping of str → str)."""
    problems: list[str] = []
    brand, u1 = _choice(params.get("brand"), catalog.brands, "brand", problems)
    touchpoint, u2 = _choice(params.get("touchpoint"), catalog.touchpoints, "touchpoint", problems)
    category, u3 = _choice(params.get("category"), catalog.categories, "category", problems)
    polarity, u4 = _choice(params.get("polarity"), POLARITIES, "polarity", problems)
    grain = params.get("grain") or None
    if grain is not None and grain not in GRAINS:
        problems.append(f"Ignored grain “{_short(grain)}” (day, week, month, quarter or year).")
        grain = None
    raw_page = params.get("page")
    page = _int(raw_page, 1, MAX_KEYSET_PAGE, "page", problems) or 1
    days = _int(params.get("days"), 1, MAX_DAYS, "days", problems)
    start = _date(params.get("from"), "from", problems)
    end = _date(params.get("to"), "to", problems)
    if start and end and start > end:
        problems.append("The period starts after it ends; showing the whole period.")
        start = end = None
    if brand is None and not u1:
        brand = default_brand
    if touchpoint and category and category not in catalog.categories_of(touchpoint):
        category = None  # the touchpoint was changed: its new categories apply
    aspect = _text(params.get("aspect"), "aspect", problems)
    q = _text(params.get("q"), "search", problems)
    sort = params.get("sort") or "newest"
    if sort not in SORTS:
        problems.append(f"Ignored sort “{_short(sort)}” (newest, negative or engaged).")
        sort = "newest"
    since = _moment(params.get("since"), "since", problems)
    until = _moment(params.get("until"), "until", problems)
    if (since or until) and not (since and until and since < until):
        problems.append("Ignored since/until (both are needed, since before until).")
    if not (since and until and since < until):
        since = until = None
    after = _cursor(params.get("after"), "after", problems)
    before = _cursor(params.get("before"), "before", problems)
    if sort != "newest" or (after and before):
        after = before = None  # keyset pages exist for the newest-first order only
    if page > MAX_PAGE and not (after or before):
        problems.append(f"Ignored page “{_short(raw_page)}” (expected a number 1–{MAX_PAGE}).")
        page = 1
    if since and not (start or end):
        start, end = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    lo, hi = start or catalog.first_day, end or catalog.last_day
    if (start or end) and lo and hi and outside(catalog, lo, hi):
        problems.append(
            f"No data between {lo} and {hi}: the warehouse holds "
            f"{catalog.first_day} to {catalog.last_day}."
        )
    start, end = resolve_period(catalog, start, end, days if not (start or end) else None)
    grain = grain or default_grain(start, end)
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
        aspect=aspect,
        q=q,
        sort=sort,
        since=since,
        until=until,
        after=after,
        before=before,
        vs=_vs(params, catalog, brand, problems),
        **_attributes(params, catalog, problems),
        problems=tuple(problems),
        unknown=u1 or u2 or u3 or u4,
    )
