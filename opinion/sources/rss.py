"""RSS 2.0 and Atom feeds: every item of one feed, fetched with a conditional GET.

Collects `channel/item` (RSS 2.0: `guid`, `link`, `title`, `description`/`content:encoded`,
`pubDate`, `author`/`dc:creator`) or `feed/entry` (Atom: `id`, `link[@rel=alternate]/@href`,
`title`, `content`/`summary`, `published`/`updated`, `author/name`). Text: title + body, HTML
turned into plain text. Items without an id/link or without a date are rejected (the day a
post lands in must not change between runs). With a query, only items containing it are kept.

Parsing uses `defusedxml` when installed, else the standard library — and any document with a
DOCTYPE (the door to entity-expansion attacks) is refused as a reject in either case.

Auth: none. Limits: whatever the server sets; be polite (one request per run).

Cursor: `{"etag": …, "last_modified": …}` from the last 200 response, sent back as
`If-None-Match` / `If-Modified-Since`; a 304 means nothing new and yields no records. Items are
merged by id, so re-reading a changed feed adds only what is new.

Config example::

    - name: rss_airline_news
      source: rss
      options: {url: "https://example.com/airlines/feed.xml"}
      queries: [jetblue]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from opinion.records import RawRecord, Reject
from opinion.sources.base import Page, Source, SourceConfig, dump_cursor, html_to_text, load_cursor
from opinion.sources.http import safe_url
from opinion.sources.timeparse import parse_timestamp

try:  # pragma: no cover - depends on the environment
    from defusedxml.ElementTree import fromstring as _fromstring
except ImportError:  # pragma: no cover
    from xml.etree.ElementTree import fromstring as _fromstring

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"


@dataclass(frozen=True)
class RssConfig(SourceConfig):
    connector = "rss"

    url: str = ""  # the feed; a path like "/feed.xml" is joined onto base_url

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.url:
            self._bad("url", self.url, "the rss source needs the feed url")
        relative_ok = bool(self.base_url) and self.url.startswith("/")
        if not self.url.startswith(("http://", "https://")) and not relative_ok:
            self._bad("url", self.url, "must be an http(s) URL (or a /path with base_url)")

    @property
    def feed_url(self) -> str:
        return self.url if self.url.startswith("http") else self.base_url + self.url


def parse_feed(body: bytes) -> list[dict]:
    """Items of an RSS 2.0 or Atom document as dicts; raises ValueError on bad XML."""
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise ValueError("refused: the document declares a DOCTYPE/ENTITY (entity expansion)")
    try:
        root = _fromstring(body)
    except ParseError as exc:
        raise ValueError(f"invalid XML ({exc})") from None
    except Exception as exc:  # defusedxml's own errors
        raise ValueError(f"refused XML ({type(exc).__name__}: {exc})") from None
    if root.tag == f"{ATOM}feed":
        return [_atom_item(e) for e in root.findall(f"{ATOM}entry")]
    if (
        root.tag in ("rss", "{http://backend.userland.com/rss2}rss")
        or root.find("channel") is not None
    ):
        return [_rss_item(e) for e in root.iter("item")]
    raise ValueError(f"not an RSS or Atom feed (root element {root.tag!r})")


def _text(el: Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _rss_item(item: Element) -> dict:
    return {
        "id": _text(item.find("guid")) or _text(item.find("link")),
        "link": _text(item.find("link")) or None,
        "title": _text(item.find("title")),
        "body": _text(item.find(f"{CONTENT}encoded")) or _text(item.find("description")),
        "date": _text(item.find("pubDate")) or _text(item.find(f"{DC}date")),
        "author": _text(item.find(f"{DC}creator")) or _text(item.find("author")) or None,
    }


def _atom_item(entry: Element) -> dict:
    link = None
    for el in entry.findall(f"{ATOM}link"):
        if el.get("rel", "alternate") == "alternate" and el.get("href"):
            link = el.get("href")
            break
    author = entry.find(f"{ATOM}author")
    content = entry.find(f"{ATOM}content")
    if content is None or not _text(content):
        content = entry.find(f"{ATOM}summary")
    return {
        "id": _text(entry.find(f"{ATOM}id")) or (link or ""),
        "link": link,
        "title": _text(entry.find(f"{ATOM}title")),
        "body": _text(content),
        "date": _text(entry.find(f"{ATOM}published")) or _text(entry.find(f"{ATOM}updated")),
        "author": _text(author.find(f"{ATOM}name")) if author is not None else None,
    }


class RssSource(Source):
    config: RssConfig

    def _key_parts(self) -> list[str]:
        return [self.config.feed_url.split("://", 1)[-1], self.config.query or ""]

    def pages(self, cursor: str | None) -> Iterator[Page]:
        cfg = self.config
        state = load_cursor(cursor)
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9"}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        url = cfg.feed_url
        key = safe_url(url)
        response = self.client.get(url, headers=headers)
        if response.status_code == 304:
            yield Page([], None, key)
            return
        try:
            items = parse_feed(response.content)
        except ValueError as exc:
            reason = f"malformed page: {key}: {exc}"
            yield Page([Reject(self.name, response.text[:10_000], reason)], None, key)
            return
        records: list[RawRecord | Reject] = []
        skipped = 0
        seen: set[str] = set()
        query = (cfg.query or "").lower()
        for item in items:
            rec = self._record(item)
            if isinstance(rec, RawRecord):
                if rec.native_id in seen or (query and query not in rec.text.lower()):
                    skipped += 1
                    continue
                if cfg.since and rec.created_at < cfg.since:
                    skipped += 1
                    continue
                seen.add(rec.native_id)
            records.append(rec)
        new_state = {
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
        }
        yield Page(records, dump_cursor(new_state), key, skipped)

    def _record(self, item: dict) -> RawRecord | Reject:
        if not item["id"]:
            return Reject(self.name, str(item)[:2000], "item without guid/id/link")
        title, body = html_to_text(item["title"]), html_to_text(item["body"])
        text = "\n\n".join(p for p in (title, body) if p)
        if not text:
            return Reject(self.name, item["id"], "item without title or content")
        try:
            created = parse_timestamp(item["date"])
        except ValueError as exc:
            return Reject(self.name, item["id"], f"bad or missing date: {exc}")
        return RawRecord(
            source=self.name,
            native_id=item["id"],
            text=text,
            created_at=created,
            author=item["author"],
            url=item["link"]
            or (item["id"] if item["id"].startswith("http") else self.config.feed_url),
            brand=self.config.brand,
            payload={
                "id": item["id"],
                "link": item["link"],
                "author": item["author"],
                "date": item["date"],
                "title": title,
            },
        )
