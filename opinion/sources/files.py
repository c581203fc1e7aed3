"""The `files` source: CSV, JSON Lines and Parquet exports, mapped onto post fields.

A column mapping names which input column holds each field; the demo's airline CSV is the
built-in example (`AIRLINE_TWEETS`). A record that cannot become a post (malformed CSV row,
JSON that is not an object, missing text or id, bad timestamp) becomes a `Reject` with a
one-line reason and the rest of the file goes on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from opinion.records import RawRecord, Reject
from opinion.sources.timeparse import parse_timestamp

FIELDS = ("native_id", "text", "created_at", "author", "url", "brand", "rating")
REQUIRED = ("native_id", "text", "created_at")


@dataclass(frozen=True)
class FileSourceConfig:
    """Where the file is and which column holds which field (`{field: column}`)."""

    path: Path
    source: str = "files"
    mapping: dict[str, str] = field(default_factory=dict)
    url_template: str | None = None  # e.g. "https://twitter.com/i/web/status/{native_id}"
    format: str | None = None  # csv | jsonl | parquet; default from the suffix

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        unknown = set(self.mapping) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) in mapping: {sorted(unknown)}; known: {FIELDS}")
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


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"json": "jsonl", "ndjson": "jsonl", "pq": "parquet"}.get(suffix, suffix)


def read_file(cfg: FileSourceConfig) -> Iterator[RawRecord | Reject]:
    """Every record of the file as a `RawRecord` or a `Reject`."""
    if not cfg.path.exists():
        raise FileNotFoundError(f"input file not found: {cfg.path}")
    for row in read_rows(cfg.path, cfg.format):
        if isinstance(row, Reject):
            yield Reject(cfg.source, row.record, row.reason)
        else:
            yield to_record(row, cfg)


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
    except ValueError as exc:
        return Reject(cfg.source, _dump(row), f"bad created_at: {exc}")
    rating = get("rating")
    try:
        rating = None if rating is None else int(float(rating))  # type: ignore[arg-type]
        if rating is not None and not 1 <= rating <= 5:
            raise ValueError
    except (TypeError, ValueError):
        return Reject(cfg.source, _dump(row), f"rating must be 1..5, got {rating!r}")
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
    )


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


def _csv_rows(path: Path) -> Iterator[dict | Reject]:
    raw = path.read_bytes().decode("utf-8", errors="replace").replace("\x00", "")
    reader = csv.reader(io.StringIO(raw, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
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
        if swallowed:
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


def _jsonl_rows(path: Path) -> Iterator[dict | Reject]:
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            text = line.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Reject("", text[:10_000], f"line {n}: not JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                yield Reject("", text[:10_000], f"line {n}: JSON {type(obj).__name__}, not object")
                continue
            yield obj


def _parquet_rows(path: Path) -> Iterator[dict | Reject]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        yield from batch.to_pylist()
