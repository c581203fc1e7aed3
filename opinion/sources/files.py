"""The `files` source: CSV, JSON Lines and Parquet exports, mapped onto post fields.

A column mapping names which input column holds each field (a field not in the mapping is
read from the column of the same name); the demo's airline CSV is the built-in example
(`AIRLINE_TWEETS`), a Skytrax-style review export the other (`AIRLINE_REVIEWS`). Reviews
carry `title`, `recommended` (yes/no) and `rating`, read on the file's declared
`rating_scale` (default 1-5 stars): only a rating outside that scale is rejected. A record
that cannot become a post (malformed CSV row, JSON that is not an object, missing text or id,
bad timestamp, bad rating) becomes a `Reject` with a one-line reason and the rest of the file
goes on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from opinion.records import (
    DEFAULT_RATING_SCALE,
    RatingScale,
    RawRecord,
    Reject,
    parse_flag,
    parse_rating,
    parse_recommended,
    review_attribute,
)
from opinion.sources.timeparse import parse_timestamp

FIELDS = (
    "native_id",
    "text",
    "created_at",
    "author",
    "url",
    "brand",
    "rating",
    "title",
    "recommended",
    "cabin",
    "traveller_type",
    "route",
    "verified",
)
REQUIRED = ("native_id", "text", "created_at")


@dataclass(frozen=True)
class FileSourceConfig:
    """Where the file is and which column holds which field (`{field: column}`)."""

    path: Path
    source: str = "files"
    mapping: dict[str, str] = field(default_factory=dict)
    url_template: str | None = None  # e.g. "https://twitter.com/i/web/status/{native_id}"
    format: str | None = None  # csv | jsonl | parquet; default from the suffix
    rating_scale: str | None = None  # "1-10", "0-10", ...; None = 1-5 stars

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.rating_scale is not None:
            scale = RatingScale.parse(self.rating_scale)
            object.__setattr__(self, "rating_scale", str(scale))
        unknown = set(self.mapping) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) in mapping: {sorted(unknown)}; known: {FIELDS}")
        bad = {k: v for k, v in self.mapping.items() if not isinstance(v, str) or not v.strip()}
        if bad:
            name, value = next(iter(bad.items()))
            raise ValueError(
                f"mapping value for {name!r} must be a column name, got {type(value).__name__}"
            )
        fmt = self.format or _format_of(self.path)
        if fmt not in ("csv", "jsonl", "parquet"):
            raise ValueError(f"unsupported file format {fmt!r} for {self.path.name}")
        object.__setattr__(self, "format", fmt)

    def column(self, name: str) -> str:
        return self.mapping.get(name, name)


AIRLINE_TWEETS = {
    "native_id": "tweet_id",
    "text": "text",
    "created_at": "tweet_created",
    "author": "name",
    "brand": "airline",
}
TWEET_URL = "https://twitter.com/i/web/status/{native_id}"

#: A Skytrax-style review export (`../shared/data/reviews/airline_reviews.csv`); its overall
#: `rating` is on 1-10, so collect it with `rating_scale=1-10`.
AIRLINE_REVIEWS = {
    "native_id": "review_id",
    "text": "text",
    "created_at": "published",
    "author": "author",
    "brand": "airline",
    "title": "title",
    "rating": "rating",
    "recommended": "recommended",
    "cabin": "cabin",
    "traveller_type": "traveller_type",
    "route": "route",
    "verified": "verified",
}


def _format_of(path: Path) -> str:
    if path.suffix.lower() == ".gz":  # data.csv.gz: the format is the inner suffix
        path = path.with_suffix("")
    suffix = path.suffix.lower().lstrip(".")
    return {"json": "jsonl", "ndjson": "jsonl", "pq": "parquet"}.get(suffix, suffix)


def read_file(cfg: FileSourceConfig) -> Iterator[RawRecord | Reject]:
    """Every record of the file as a `RawRecord` or a `Reject`."""
    if not cfg.path.exists():
        raise FileNotFoundError(f"input file not found: {cfg.path}")
    for row in read_rows(cfg.path, cfg.format):
        if isinstance(row, Reject):
            yield Reject(cfg.source, row.record, row.reason)
            continue
        try:
            yield to_record(row, cfg)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            yield Reject(cfg.source, _dump(row), f"unusable row: {type(exc).__name__}")


def to_record(row: dict, cfg: FileSourceConfig) -> RawRecord | Reject:
    """Map one input row onto a `RawRecord`; the reason names the first problem found."""

    def get(name: str) -> object:
        value = row.get(cfg.column(name))
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    missing = [f for f in REQUIRED if get(f) is None]
    if missing:
        return Reject(cfg.source, _dump(row), f"missing required field(s): {', '.join(missing)}")
    text = row.get(cfg.column("text"))
    if not isinstance(text, str):
        return Reject(cfg.source, _dump(row), f"text is {type(text).__name__}, not a string")
    try:
        created = parse_timestamp(get("created_at"))
    except ValueError:  # the value itself is never echoed: it may be anyone's data
        return Reject(
            cfg.source,
            _dump(row),
            f"bad created_at: invalid date in field {cfg.column('created_at')}",
        )
    scale = RatingScale.parse(cfg.rating_scale or DEFAULT_RATING_SCALE)
    try:
        rating = parse_rating(get("rating"))
        if rating is not None:
            scale.normalise(rating)
    except ValueError as exc:
        hint = "" if cfg.rating_scale else " (declare the file's scale, e.g. rating_scale=1-10)"
        return Reject(cfg.source, _dump(row), f"bad rating: {exc}{hint}")
    try:
        recommended = parse_recommended(get("recommended"))
    except ValueError as exc:
        return Reject(cfg.source, _dump(row), f"bad recommended: {exc}")
    try:
        verified = parse_flag(get("verified"), "verified")
    except ValueError as exc:
        return Reject(cfg.source, _dump(row), f"bad verified: {exc}")
    title = get("title")
    native_id = str(get("native_id")).strip()
    url = get("url")
    if url is None and cfg.url_template:
        url = cfg.url_template.format(native_id=native_id)
    author, brand = get("author"), get("brand")
    return RawRecord(
        source=cfg.source,
        native_id=native_id,
        text=text,
        created_at=created,
        author=None if author is None else str(author),
        url=None if url is None else str(url),
        brand=None if brand is None else str(brand),
        rating=rating,
        payload={k: v for k, v in row.items() if v is not None},
        rating_scale=None if rating is None else str(scale),
        title=None if title is None else clean_title(str(title)),
        recommended=recommended,
        cabin=review_attribute(get("cabin")),
        traveller_type=review_attribute(get("traveller_type")),
        route=review_attribute(get("route")),
        verified=verified,
    )


_QUOTES = "\"'“”‘’«»"


def clean_title(title: str) -> str:
    """A review headline without the quotes some exports wrap it in (`"Great crew"`)."""
    title = " ".join(title.split())
    while len(title) > 1 and title[0] in _QUOTES and title[-1] in _QUOTES:
        title = title[1:-1].strip()
    return title


def read_rows(path: Path, fmt: str | None = None) -> Iterator[dict | Reject]:
    """Rows of a CSV, JSON Lines or Parquet file as dicts; unreadable ones as `Reject`s."""
    fmt = fmt or FileSourceConfig(path).format
    reader = {"csv": _csv_rows, "jsonl": _jsonl_rows, "parquet": _parquet_rows}[fmt]
    return reader(path)


def _dump(row: object) -> str:
    try:
        return json.dumps(row, default=str, ensure_ascii=False)[:10_000]
    except (TypeError, ValueError):
        return repr(row)[:10_000]


GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (by content, whatever its name); a broken
    gzip stream is a one-line ValueError."""
    import gzip
    import zlib

    data = Path(path).read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{Path(path).name}: broken gzip file ({exc})") from None
    return data


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
#: CSV fields up to this size are read (the gate then caps texts like JSON Lines'); the csv
#: module's default, 131,072, made one long review or header a traceback.
MAX_FIELD_CHARS = 64 * 1024 * 1024


def decode_text(data: bytes, name: str) -> str:
    """The file's text: a BOM decides (UTF-8/16/32), else UTF-8, else UTF-16 without a BOM
    (NUL bytes every other byte), else the encoding charset-normalizer detects (latin-1,
    cp1252, Shift-JIS, ...). Never U+FFFD in place of characters: undecodable bytes are a
    one-line ValueError naming the file."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise ValueError(
                    f"{name}: not valid {encoding} after its byte-order mark"
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    head = data[:4096]
    if head and head.count(0) > len(head) // 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        for encoding in ("utf-16-le", "utf-16-be") if odd > even else ("utf-16-be", "utf-16-le"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    found = [m.encoding for m in matches if m.encoding]
    if not found:
        raise ValueError(f"{name}: not UTF-8 and no text encoding could be detected")
    # short Western text fits several code pages equally; cp1252 (a superset of latin-1's
    # printable range) is by far the likeliest in a European/American corpus
    encoding = "cp1252" if "cp1252" in found else found[0]
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise ValueError(f"{name}: not UTF-8, and not valid {encoding} either") from None


def _csv_rows(path: Path) -> Iterator[dict | Reject]:
    raw = decode_text(read_bytes(path), path.name).replace("\x00", "")
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(raw, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ValueError(f"{path.name}: unreadable CSV header ({exc})") from None
    while True:
        first_line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Reject("", f"line {reader.line_num}", f"malformed CSV: {exc}")
            continue
        if not values:
            continue
        swallowed = _swallowed_rows(values, len(header)) if reader.line_num > first_line else 0
        # one comma-rich line of prose inside a well-formed record is not a swallowed row (a
        # Skytrax review has one); two, or a record of the wrong width, are
        if swallowed >= 2 or (swallowed and len(values) != len(header)):
            yield Reject(
                "",
                json.dumps(values, ensure_ascii=False)[:10_000],
                f"malformed CSV row at lines {first_line}-{reader.line_num}: unbalanced quote, "
                f"a field swallowed {swallowed} line(s) that look like rows",
            )
            continue
        if len(values) != len(header):
            yield Reject(
                "",
                json.dumps(values, ensure_ascii=False)[:10_000],
                f"malformed CSV row at line {reader.line_num}: "
                f"{len(values)} fields, header has {len(header)}",
            )
            continue
        yield dict(zip(header, values, strict=True))


def _swallowed_rows(values: list[str], n_fields: int) -> int:
    """Lines inside a multi-line field that parse as whole rows on their own: the sign of a
    quote opened and never closed (legitimate multi-line text rarely holds a full row)."""
    if n_fields < 3:
        return 0
    count = 0
    for value in values:
        for line in value.splitlines()[1:]:
            try:
                parsed = next(csv.reader([line]), [])
            except csv.Error:
                continue
            count += len(parsed) >= n_fields
    return count


MAX_DEPTH = 64  # deeper payloads are hostile: every later stage walks them recursively
MAX_INT = 10**30  # larger integers are no post's data (and past 4,300 digits Python refuses)


def _unusable(obj: object) -> str | None:
    """Why a parsed JSON record cannot be kept (nesting, huge integer, lone surrogate)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"JSON nested deeper than {MAX_DEPTH}"
        if isinstance(value, dict):
            stack += [(k, depth) for k in value] + [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
        elif isinstance(value, int) and abs(value) >= MAX_INT:
            return "integer too large"
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "invalid unicode (lone surrogate)"
    return None


def _jsonl_rows(path: Path) -> Iterator[dict | Reject]:
    data = decode_text(read_bytes(path), path.name)
    for n, line in enumerate(data.splitlines(), 1):
        text = line.lstrip("\ufeff").strip()
        if not text:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject("", text[:10_000], f"line {n}: not JSON ({exc.msg})")
            continue
        except RecursionError:
            yield Reject("", text[:10_000], f"line {n}: JSON nested too deep")
            continue
        except ValueError:  # an integer past Python's 4,300-digit limit
            yield Reject("", text[:10_000], f"line {n}: integer too large")
            continue
        if not isinstance(obj, dict):
            yield Reject("", text[:10_000], f"line {n}: JSON {type(obj).__name__}, not object")
            continue
        problem = _unusable(obj)
        if problem:
            yield Reject(
                "", text[:10_000].encode("utf-8", "replace").decode(), f"line {n}: {problem}"
            )
            continue
        yield obj


def _parquet_rows(path: Path) -> Iterator[dict | Reject]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
            yield from batch.to_pylist()
    except (OSError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path.name}: not a readable Parquet file ({first})") from None
