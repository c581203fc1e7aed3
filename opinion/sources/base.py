"""The contract every connector meets: a validated config, a `Source` that yields `Page`s.

A source is a generator of pages. Each `Page` carries the records it produced
(`RawRecord` or `Reject`) and the cursor to persist once those records are safely in the lake
(`next_cursor`). The collect wing (`opinion.collect.jobs`) owns the cursor: it reads it, hands it to
`Source.pages`, writes each page's records with `collect_records`, then saves the page's
`next_cursor`. A crash between two pages therefore resumes exactly after the last page written.

Cursors are opaque strings to the pipeline; connectors use compact JSON objects (see
`load_cursor` / `dump_cursor`) that hold the incremental watermark (the newest item committed)
and, while a walk through the result pages is in progress, where that walk stands.

Errors say what to do about them: `TransientError` (429, 5xx, timeouts, connection errors —
retried by the HTTP policy, then raised if they persist) and `TerminalError` (bad credentials,
unknown resource, a response that violates the platform's schema — fail fast, one line).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, ClassVar

from opinion.records import RawRecord, Reject
from opinion.sources.timeparse import parse_timestamp


@dataclass
class Page:
    """One unit of work: records to write, then the cursor to persist after writing them.

    `key` identifies the request that produced the page (secrets stripped); the runner names
    the page's rejects file after it, so re-collecting the same page replaces that file.
    `next_cursor=None` means "nothing new to persist" (keep the stored cursor)."""

    records: list[RawRecord | Reject]
    next_cursor: str | None
    key: str | None = None
    skipped: int = 0  # deleted / filtered-out / already-seen items dropped on purpose
    run_key: str | None = None  # explicit rejects-file key (else derived from `key`)


# ---------------------------------------------------------------- config


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class SourceConfig:
    """Options every connector accepts. Subclasses add their own fields.

    Build from loose options (YAML, CLI) with `from_options`, which rejects unknown names and
    coerces types; `__post_init__` validates and raises a one-line `ValueError` naming the
    field and the bad value."""

    connector: ClassVar[str] = "source"
    default_base_url: ClassVar[str] = ""

    name: str = ""  # lake source name stored on posts; default: the connector name
    base_url: str = ""  # default: the platform's real host
    query: str | None = None
    brand: str | None = None
    since: datetime | None = None  # lower bound for the first run (no stored cursor)
    page_size: int = 50
    max_pages: int = 100  # per run; an unfinished walk resumes on the next run
    timeout: float = 30.0
    max_attempts: int = 5

    def __post_init__(self) -> None:
        name = self.name or self.connector
        if not _NAME_RE.match(name) or ".." in name:
            self._bad("name", name, "must be a safe name ([A-Za-z0-9_.-])")
        object.__setattr__(self, "name", name)
        base = (self.base_url or self.default_base_url).rstrip("/")
        if base and not re.match(r"^https?://[^/\s]+", base):
            self._bad("base_url", base, "must be an http(s) URL")
        object.__setattr__(self, "base_url", base)
        if self.since is not None and not isinstance(self.since, datetime):
            try:
                object.__setattr__(self, "since", parse_timestamp(self.since))
            except ValueError as exc:
                self._bad("since", self.since, str(exc))
        for fld, lo, hi in (("page_size", 1, 1000), ("max_pages", 1, 100_000)):
            value = getattr(self, fld)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                self._bad(fld, value, f"must be an integer in {lo}..{hi}")
        if not isinstance(self.timeout, int | float) or not 0 < self.timeout <= 600:
            self._bad("timeout", self.timeout, "must be seconds in (0, 600]")
        if not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts <= 20:
            self._bad("max_attempts", self.max_attempts, "must be an integer in 1..20")
        if self.query is not None and not str(self.query).strip():
            self._bad("query", self.query, "must not be empty")

    def _bad(self, fld: str, value: object, why: str) -> None:
        raise ValueError(f"{self.connector}.{fld}={_short(value)}: {why}")

    @classmethod
    def from_options(cls, **options: Any) -> SourceConfig:
        """Build from loose options: unknown names and wrong types are one-line errors."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - set(fields))
        if unknown:
            raise ValueError(
                f"unknown option(s) for {cls.connector}: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(fields))})"
            )
        values = {}
        for key, value in options.items():
            if value is None:
                continue
            values[key] = _coerce(cls.connector, key, value, fields[key].type)
        return cls(**values)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _coerce(connector: str, key: str, value: Any, typ: Any) -> Any:
    typ = str(typ)
    try:
        if typ.startswith("int") and isinstance(value, str):
            return int(value)
        if typ.startswith("float") and isinstance(value, str | int):
            return float(value)
        if typ.startswith("bool") and isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ.startswith("tuple") and isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if typ.startswith("tuple") and isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        if typ.startswith("dict") and isinstance(value, str) and value.lstrip().startswith("{"):
            value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise ValueError(f"{connector}.{key}={_short(value)}: expected {typ}") from None
    return value


# ---------------------------------------------------------------- source


class Source:
    """A connector instance: `name` (lake source), `key` (cursor key), `pages(cursor)`."""

    config: SourceConfig

    def __init__(self, config: SourceConfig, client=None) -> None:
        from opinion.sources.http import HttpClient, HttpPolicy

        self.config = config
        self.client = client or HttpClient(
            HttpPolicy(timeout=config.timeout, max_attempts=config.max_attempts)
        )

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def key(self) -> str:
        """The cursor key: which instance + query this cursor belongs to (a safe file name)."""
        return safe_key(self._key_parts())

    def _key_parts(self) -> list[str]:
        host = re.sub(r"^https?://", "", self.config.base_url)
        return [host, self.config.query or ""]

    def pages(self, cursor: str | None) -> Iterator[Page]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fetch_json(self, url: str, params: dict | None = None, headers: dict | None = None):
        """GET JSON → `(data, response, None)`, or `(None, response, reject)` when the body
        is not JSON (the response still tells paging headers). HTTP errors raise."""
        from opinion.sources.http import MalformedBody, safe_url

        try:
            data, response = self.client.get_json(url, params=params, headers=headers)
        except MalformedBody as exc:
            body = exc.response.content if exc.response is not None else b""
            reject = malformed_reject(self.name, safe_url(url, params), exc, body)
            return None, exc.response, reject
        return data, response, None

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def safe_key(parts: list[str]) -> str:
    """A readable, file-name-safe key from parts, with a short hash so distinct parts never
    collide after slugging (e.g. `mastodon.social-tag-delta-1a2b3c4d`)."""
    raw = "\x1f".join(parts)
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", "-".join(p for p in parts if p)).strip("-.")
    slug = re.sub(r"\.\.+", ".", slug)[:60] or "default"
    return f"{slug}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"


# ---------------------------------------------------------------- helpers


def load_cursor(cursor: str | None) -> dict:
    """A connector cursor as a dict ({} for none). A bare value is taken as the watermark."""
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except json.JSONDecodeError:
        return {"since": cursor}
    return value if isinstance(value, dict) else {"since": value}


def dump_cursor(state: dict) -> str:
    return json.dumps({k: v for k, v in state.items() if v is not None}, sort_keys=True)


def malformed_reject(source: str, url: str, exc: Exception, body: bytes | str = b"") -> Reject:
    """The reject for a page whose body could not be parsed (URL already secret-free)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Reject(source, text[:10_000], f"malformed page: {url}: {first}")


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(value: str | None) -> str:
    """Plain text from an HTML fragment: tags dropped, entities decoded, paragraphs kept."""
    if not value:
        return ""
    if "<" not in value:
        return html.unescape(value).strip()
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


MAX_PAGE_FAILURES = 3


def retry_or_skip(state: dict, finished: dict) -> str:
    """Cursor after a malformed page whose successor is unknowable: stay on that page so the
    next run retries it, but after `MAX_PAGE_FAILURES` runs give up on it (`finished`) so one
    broken page cannot block a source forever."""
    fails = int(state.get("fail") or 0) + 1
    if fails >= MAX_PAGE_FAILURES:
        return dump_cursor(finished)
    return dump_cursor({**state, "fail": fails})


def newer_id(a: str | None, b: str | None) -> str | None:
    """The larger of two numeric-string ids (snowflakes), None-safe."""
    if not a:
        return b
    if not b:
        return a
    return max(a, b, key=lambda v: (len(v), v))


__all__ = [
    "Page",
    "Source",
    "SourceConfig",
    "dump_cursor",
    "html_to_text",
    "load_cursor",
    "malformed_reject",
    "safe_key",
    "retry_or_skip",
]
