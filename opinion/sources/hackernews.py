"""Hacker News: stories and comments matching a query, via the Algolia HN Search API.

Collects `GET https://hn.algolia.com/api/v1/search_by_date?query=…&tags=(story,comment)
&numericFilters=created_at_i>X,created_at_i<=Y&hitsPerPage=…&page=…`. Response: `{"hits":
[…], "page", "nbPages", "nbHits", "hitsPerPage", …}`; a hit has `objectID`, `created_at`,
`created_at_i`, `author`, `_tags`, and `title`/`story_text` (stories) or `comment_text`,
`story_id`, `story_title`, `parent_id` (comments). Text is `title` + `story_text` or
`comment_text`, HTML turned into plain text; hits without text (deleted, dead) are skipped.
URL: `https://news.ycombinator.com/item?id={objectID}`.

Auth: none. Limits: 10,000 requests/hour per IP; `hitsPerPage` ≤ 1000 and at most 1,000 hits
reachable by paging — a walk that hits that cap narrows its upper time bound to the oldest hit
seen and starts again at page 0.

Cursor: `{"since": <newest created_at_i committed>}`; the next run asks
`created_at_i>since`. A walk freezes its upper bound (`upper`, the start time) so new items
cannot shift pages, and keeps `page`/`nb`/`top`/`low` in the cursor until it ends.

Config example::

    - name: hn_airlines
      source: hackernews
      options: {tags: "(story,comment)"}
      queries: [united airlines, jetblue]
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from opinion.records import RawRecord, Reject
from opinion.sources.base import (
    Page,
    Source,
    SourceConfig,
    dump_cursor,
    html_to_text,
    load_cursor,
    retry_or_skip,
)
from opinion.sources.errors import TerminalError
from opinion.sources.http import safe_url
from opinion.sources.timeparse import parse_timestamp

ALGOLIA_PAGINATION_LIMIT = 1000
_DELETED = {"[deleted]", "[dead]", "[flagged]", "[removed]"}


@dataclass(frozen=True)
class HackerNewsConfig(SourceConfig):
    connector = "hackernews"
    default_base_url = "https://hn.algolia.com"

    tags: str = "(story,comment)"
    page_size: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.query:
            self._bad("query", self.query, "hackernews search needs a query")
        if not self.tags.strip():
            self._bad("tags", self.tags, "must not be empty")


class HackerNewsSource(Source):
    config: HackerNewsConfig

    def pages(self, cursor: str | None) -> Iterator[Page]:
        cfg = self.config
        state = load_cursor(cursor)
        since = state.get("since")
        if since is None and cfg.since is not None:
            since = int(cfg.since.timestamp())
        since = int(since or 0)
        upper = int(state.get("upper") or time.time())
        page, nb = int(state.get("page") or 0), state.get("nb")
        top, low = state.get("top"), state.get("low")
        url = f"{cfg.base_url}/api/v1/search_by_date"
        seen: set[str] = set()

        def walk(**changes) -> dict:
            return {
                "since": since,
                "upper": upper,
                "page": page,
                "nb": nb,
                "top": top,
                "low": low,
                **changes,
            }

        for _ in range(cfg.max_pages):
            params = {
                "query": cfg.query,
                "tags": cfg.tags,
                "numericFilters": f"created_at_i>{since},created_at_i<={upper}",
                "hitsPerPage": cfg.page_size,
                "page": page,
            }
            data, _response, reject = self.fetch_json(url, params)
            key = safe_url(url, params)
            if reject is not None:
                if nb is not None and page + 1 < int(nb):
                    page += 1
                    yield Page([reject], dump_cursor(walk()), key)
                    continue
                finished = {"since": max(int(top or 0), since)}
                yield Page([reject], retry_or_skip(walk(fail=state.get("fail")), finished), key)
                return
            if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
                raise TerminalError(f"hackernews: expected an object with 'hits' from {key}")
            records: list[RawRecord | Reject] = []
            skipped = 0
            for hit in data["hits"]:
                item = self._record(hit)
                if isinstance(item, RawRecord):
                    at = int(hit.get("created_at_i") or item.created_at.timestamp())
                    top = max(int(top or 0), at)
                    low = min(int(low if low is not None else at), at)
                    if item.native_id in seen:
                        item = None
                    else:
                        seen.add(item.native_id)
                if item is None:
                    skipped += 1
                else:
                    records.append(item)
            nb = int(data.get("nbPages") or 0)
            hits_total = int(data.get("nbHits") or 0)
            if data["hits"] and page + 1 < nb:
                page += 1
                yield Page(records, dump_cursor(walk()), key, skipped)
                continue
            reachable = min(nb * cfg.page_size, ALGOLIA_PAGINATION_LIMIT)
            if data["hits"] and hits_total > reachable and low is not None and low < upper:
                # capped by Algolia's pagination limit: narrow the window and start over
                upper, page, nb = int(low), 0, None
                yield Page(records, dump_cursor(walk()), key, skipped)
                continue
            yield Page(records, dump_cursor({"since": max(int(top or 0), since)}), key, skipped)
            return

    def _record(self, hit: object) -> RawRecord | Reject | None:
        if not isinstance(hit, dict) or not hit.get("objectID"):
            return Reject(self.name, str(hit)[:2000], "hit without objectID")
        tags = hit.get("_tags") or []
        if hit.get("comment_text") is not None or "comment" in tags:
            text = html_to_text(hit.get("comment_text"))
        else:
            title = html_to_text(hit.get("title"))
            body = html_to_text(hit.get("story_text"))
            text = "\n\n".join(p for p in (title, body) if p)
        if not text or text in _DELETED:
            return None
        try:
            created = parse_timestamp(hit.get("created_at_i") or hit.get("created_at"))
        except ValueError as exc:
            return Reject(self.name, str(hit["objectID"]), f"bad created_at: {exc}")
        oid = str(hit["objectID"])
        payload = {
            "objectID": oid,
            "author": hit.get("author"),
            "created_at": hit.get("created_at"),
            "type": "comment" if "comment" in tags else "story",
            "story_id": hit.get("story_id"),
            "story_title": hit.get("story_title"),
            "parent_id": hit.get("parent_id"),
            "points": hit.get("points"),
            "num_comments": hit.get("num_comments"),
            "link": hit.get("url"),
        }
        return RawRecord(
            source=self.name,
            native_id=oid,
            text=text,
            created_at=created,
            author=hit.get("author"),
            url=f"https://news.ycombinator.com/item?id={oid}",
            brand=self.config.brand,
            payload=payload,
        )
