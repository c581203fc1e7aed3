"""Mastodon: public statuses of one instance, by hashtag or from the public timeline.

Collects `GET /api/v1/timelines/tag/:hashtag` (`timeline: tag`, the hashtag is the query,
with or without `#`) or `GET /api/v1/timelines/public` (`timeline: public`, optional `local`;
with a query, only statuses whose text contains it are kept). Each status's `content` is HTML
and is turned into plain text (the content warning `spoiler_text`, when set, is prepended).
Reblogs are replaced by the status they reblog, and a status already seen in this run is
collected once. Statuses without any text (deleted, media-only) are skipped.

Auth: none — both timelines are public on most instances (some require a token; not supported).
Limits: `limit` ≤ 40 per page; instances rate-limit at ~300 requests / 5 min per IP and send
`X-RateLimit-Remaining`/`X-RateLimit-Reset`, which the shared HTTP policy honours.

Paging: newest first; the `Link` header's `rel="next"` URL carries `max_id` (older page) and
`rel="prev"` carries `min_id`. Cursor: `{"since": <newest status id committed>}`; the next run
asks `since_id=<that id>` and walks back through `max_id` pages until an empty page, so every
status newer than the watermark is collected. While a walk is under way the cursor also holds
`max_id` (next page) and `top` (newest id of this walk), so a crash resumes mid-walk. A first
run with `since: 2024-05-01` starts from the snowflake id of that time.

Config example (opinion.yaml)::

    - name: mastodon_airlines
      source: mastodon
      options: {base_url: "https://mastodon.social", timeline: tag}
      queries: [delta, jetblue]

Native id: the status `uri` (its ActivityPub id, the same on every instance); URL: its `url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from opinion.records import RawRecord, Reject
from opinion.sources.base import (
    Page,
    Source,
    SourceConfig,
    dump_cursor,
    html_to_text,
    load_cursor,
    newer_id,
    retry_or_skip,
)
from opinion.sources.errors import TerminalError
from opinion.sources.http import safe_url
from opinion.sources.timeparse import parse_timestamp


@dataclass(frozen=True)
class MastodonConfig(SourceConfig):
    connector = "mastodon"
    default_base_url = "https://mastodon.social"

    timeline: str = "tag"  # tag | public
    local: bool = False  # public timeline: only this instance's statuses
    page_size: int = 40

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.timeline not in ("tag", "public"):
            self._bad("timeline", self.timeline, "must be 'tag' or 'public'")
        if self.timeline == "tag":
            tag = (self.query or "").lstrip("#").strip()
            if not tag or not tag.replace("_", "").isalnum():
                self._bad("query", self.query, "the tag timeline needs a hashtag (letters/digits)")
        if self.page_size > 40:
            self._bad("page_size", self.page_size, "Mastodon allows at most 40")


def snowflake_for(when) -> str:
    """The smallest Mastodon status id at a time (ids are ms-since-epoch << 16)."""
    return str(int(when.timestamp() * 1000) << 16)


class MastodonSource(Source):
    config: MastodonConfig

    def _key_parts(self) -> list[str]:
        host = self.config.base_url.split("://", 1)[-1]
        return [host, self.config.timeline, (self.config.query or "").lstrip("#").lower()]

    def _endpoint(self) -> tuple[str, dict]:
        cfg = self.config
        if cfg.timeline == "tag":
            tag = cfg.query.lstrip("#")  # type: ignore[union-attr]
            return f"{cfg.base_url}/api/v1/timelines/tag/{tag}", {}
        return f"{cfg.base_url}/api/v1/timelines/public", {"local": "true" if cfg.local else None}

    def pages(self, cursor: str | None) -> Iterator[Page]:
        cfg = self.config
        state = load_cursor(cursor)
        since = state.get("since") or (snowflake_for(cfg.since) if cfg.since else None)
        top, max_id = state.get("top"), state.get("max_id")
        url, base_params = self._endpoint()
        seen: set[str] = set()
        for _ in range(cfg.max_pages):
            params = {**base_params, "limit": cfg.page_size, "since_id": since, "max_id": max_id}
            data, response, reject = self.fetch_json(url, params)
            key = safe_url(url, params)
            nxt = _link_param(response, "next", "max_id") if response is not None else None
            if reject is not None:
                if nxt:
                    max_id = nxt
                    state = {"since": since, "top": top, "max_id": max_id}
                    yield Page([reject], dump_cursor(state), key)
                    continue
                done = {"since": newer_id(top, since)}
                cur = {"since": since, "top": top, "max_id": max_id, "fail": state.get("fail")}
                yield Page([reject], retry_or_skip(cur, done), key)
                return
            if not isinstance(data, list):
                raise TerminalError(
                    f"mastodon: expected a JSON array of statuses from {key}, "
                    f"got {type(data).__name__}"
                )
            records: list[RawRecord | Reject] = []
            skipped = 0
            for status in data:
                if not isinstance(status, dict) or "id" not in status:
                    records.append(Reject(self.name, str(status)[:2000], "status without id"))
                    continue
                top = newer_id(top, str(status["id"]))
                item = self._record(status)
                if item is None or (isinstance(item, RawRecord) and item.native_id in seen):
                    skipped += 1
                    continue
                if isinstance(item, RawRecord):
                    seen.add(item.native_id)
                records.append(item)
            if not data or not nxt:
                yield Page(records, dump_cursor({"since": newer_id(top, since)}), key, skipped)
                return
            max_id = nxt
            state = {"since": since, "top": top, "max_id": max_id}
            yield Page(records, dump_cursor(state), key, skipped)

    def _record(self, status: dict) -> RawRecord | Reject | None:
        original = status.get("reblog") if isinstance(status.get("reblog"), dict) else status
        text = html_to_text(original.get("content"))
        spoiler = (original.get("spoiler_text") or "").strip()
        if spoiler and text:
            text = f"{spoiler}\n\n{text}"
        if not text:
            return None  # deleted, or media only: nothing to analyse
        query = (self.config.query or "").lstrip("#").lower()
        if self.config.timeline == "public" and query and query not in text.lower():
            return None
        account = original.get("account") or {}
        author = account.get("acct") or account.get("username")
        native = original.get("uri") or f"{self.config.base_url}/statuses/{original.get('id')}"
        try:
            created = parse_timestamp(original.get("created_at"))
        except ValueError as exc:
            return Reject(self.name, str(original.get("id")), f"bad created_at: {exc}")
        payload = {
            "id": str(original.get("id")),
            "uri": original.get("uri"),
            "author": author,
            "created_at": original.get("created_at"),
            "language": original.get("language"),
            "in_reply_to_id": original.get("in_reply_to_id"),
            "replies_count": original.get("replies_count"),
            "reblogs_count": original.get("reblogs_count"),
            "favourites_count": original.get("favourites_count"),
            "tags": [t.get("name") for t in original.get("tags") or [] if isinstance(t, dict)],
            "instance": self.config.base_url,
        }
        return RawRecord(
            source=self.name,
            native_id=str(native),
            text=text,
            created_at=created,
            author=author,
            url=original.get("url") or original.get("uri"),
            brand=self.config.brand,
            payload=payload,
        )


def _link_param(response, rel: str, param: str) -> str | None:
    """A query parameter of the `Link` header's URL with the given rel (e.g. next → max_id)."""
    link = response.links.get(rel) if response is not None else None
    if not link or not link.get("url"):
        return None
    values = parse_qs(urlsplit(link["url"]).query).get(param)
    return values[0] if values else None
