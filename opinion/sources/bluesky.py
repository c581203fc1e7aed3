"""Bluesky: posts matching a search query, via `app.bsky.feed.searchPosts`.

Collects `GET /xrpc/app.bsky.feed.searchPosts?q=…&sort=latest&limit=…&since=…&until=…&cursor=…`
from the public AppView (`https://public.api.bsky.app`). Response: `{"posts": [PostView],
"cursor": "…", "hitsTotal": n}`; a PostView has `uri` (`at://did/app.bsky.feed.post/rkey`),
`cid`, `author{did, handle, displayName}`, `record{text, createdAt, langs}`, `indexedAt`,
like/repost/reply counts. URL: `https://bsky.app/profile/{handle}/post/{rkey}` (the DID
when the handle is `handle.invalid`). Posts without text (deleted records) are skipped.

Auth: optional. When `BLUESKY_IDENTIFIER` and `BLUESKY_APP_PASSWORD` (an app password, never
the account password) are set in the environment (names configurable), the connector logs in
with `com.atproto.server.createSession` at `auth_url` (default `https://bsky.social`) and sends
searches there with the session's bearer token (the PDS proxies `app.bsky.*` to the AppView).
Neither the password nor the tokens are ever logged or stored.

Limits: `limit` ≤ 100 per page; the AppView rate-limits per IP (429 + `Retry-After` /
`RateLimit-*` headers) — handled by the shared HTTP policy.

Cursor: `{"since": <ISO time>}` — the newest post time committed (min of `createdAt` and
`indexedAt`, the AppView's sort time); the next run searches `since=<that>` (inclusive, so a
boundary post may be fetched again and merges onto its row). A walk freezes `until` at its
start so new posts cannot shift the offset-based `cursor`, and keeps `cursor`/`top` in the
stored cursor until the walk ends.

Config example::

    - name: bluesky_airlines
      source: bluesky
      options: {lang: en}
      queries: [delta airlines, jetblue]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from opinion.records import RawRecord, Reject
from opinion.sources.base import (
    Page,
    Source,
    SourceConfig,
    dump_cursor,
    load_cursor,
    retry_or_skip,
)
from opinion.sources.errors import TerminalError
from opinion.sources.http import register_secret, safe_url
from opinion.sources.timeparse import parse_timestamp


@dataclass(frozen=True)
class BlueskyConfig(SourceConfig):
    connector = "bluesky"
    default_base_url = "https://public.api.bsky.app"

    auth_url: str = "https://bsky.social"
    identifier_env: str = "BLUESKY_IDENTIFIER"
    password_env: str = "BLUESKY_APP_PASSWORD"
    lang: str | None = None
    page_size: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.query:
            self._bad("query", self.query, "bluesky searchPosts needs a query")
        if self.page_size > 100:
            self._bad("page_size", self.page_size, "searchPosts allows at most 100")
        if not self.auth_url.startswith(("http://", "https://")):
            self._bad("auth_url", self.auth_url, "must be an http(s) URL")
        object.__setattr__(self, "auth_url", self.auth_url.rstrip("/"))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class BlueskySource(Source):
    config: BlueskyConfig

    def __init__(self, config: BlueskyConfig, client=None) -> None:
        super().__init__(config, client)
        self._api = config.base_url
        self._headers: dict[str, str] = {}
        self._logged_in = False

    def _login(self) -> None:
        cfg = self.config
        identifier = os.environ.get(cfg.identifier_env)
        password = os.environ.get(cfg.password_env)
        self._logged_in = True
        if not identifier or not password:
            return
        register_secret(password)
        response = self.client.post(
            f"{cfg.auth_url}/xrpc/com.atproto.server.createSession",
            json_body={"identifier": identifier, "password": password},
        )
        try:
            session = response.json()
            token = session["accessJwt"]
        except (ValueError, KeyError, TypeError):
            raise TerminalError("bluesky: createSession answered without an accessJwt") from None
        register_secret(token)
        register_secret(session.get("refreshJwt"))
        self._headers = {"Authorization": f"Bearer {token}"}
        self._api = cfg.auth_url

    def pages(self, cursor: str | None) -> Iterator[Page]:
        cfg = self.config
        if not self._logged_in:
            self._login()
        state = load_cursor(cursor)
        since = state.get("since") or (_iso(cfg.since) if cfg.since else None)
        until = state.get("until") or _iso(datetime.now(UTC))
        top, page_cursor = state.get("top"), state.get("cursor")
        url = f"{self._api}/xrpc/app.bsky.feed.searchPosts"
        seen: set[str] = set()
        for _ in range(cfg.max_pages):
            params = {
                "q": cfg.query,
                "sort": "latest",
                "limit": cfg.page_size,
                "since": since,
                "until": until,
                "lang": cfg.lang,
                "cursor": page_cursor,
            }
            data, _response, reject = self.fetch_json(url, params, self._headers)
            key = safe_url(url, {k: v for k, v in params.items() if k != "until"})
            if reject is not None:
                walk = {"since": since, "until": until, "top": top, "cursor": page_cursor}
                walk["fail"] = state.get("fail")
                yield Page([reject], retry_or_skip(walk, {"since": top or since}), key)
                return
            if not isinstance(data, dict) or not isinstance(data.get("posts"), list):
                raise TerminalError(f"bluesky: expected an object with 'posts' from {key}")
            records: list[RawRecord | Reject] = []
            skipped = 0
            for post in data["posts"]:
                item = self._record(post)
                if isinstance(item, RawRecord):
                    sort_at = min(_iso(item.created_at), _iso(_indexed(post, item.created_at)))
                    top = max(top or "", sort_at)
                    if item.native_id in seen:
                        item = None
                    else:
                        seen.add(item.native_id)
                if item is None:
                    skipped += 1
                else:
                    records.append(item)
            page_cursor = data.get("cursor")
            if not data["posts"] or not page_cursor:
                yield Page(records, dump_cursor({"since": top or since}), key, skipped)
                return
            state = {"since": since, "until": until, "top": top, "cursor": page_cursor}
            yield Page(records, dump_cursor(state), key, skipped)

    def _record(self, post: object) -> RawRecord | Reject | None:
        if not isinstance(post, dict) or not isinstance(post.get("uri"), str):
            return Reject(self.name, str(post)[:2000], "post without uri")
        record = post.get("record") if isinstance(post.get("record"), dict) else {}
        text = (record.get("text") or "").strip()
        if not text:
            return None  # deleted / blocked / not found, or an embed-only post
        author = post.get("author") or {}
        handle = author.get("handle")
        if not handle or handle == "handle.invalid":
            handle = author.get("did") or post["uri"].split("/")[2]
        rkey = post["uri"].rstrip("/").rsplit("/", 1)[-1]
        try:
            created = parse_timestamp(record.get("createdAt") or post.get("indexedAt"))
        except ValueError as exc:
            return Reject(self.name, post["uri"], f"bad createdAt: {exc}")
        payload = {
            "uri": post["uri"],
            "cid": post.get("cid"),
            "author": handle,
            "created_at": record.get("createdAt"),
            "indexed_at": post.get("indexedAt"),
            "langs": record.get("langs"),
            "like_count": post.get("likeCount"),
            "repost_count": post.get("repostCount"),
            "reply_count": post.get("replyCount"),
        }
        return RawRecord(
            source=self.name,
            native_id=post["uri"],
            text=text,
            created_at=created,
            author=handle,
            url=f"https://bsky.app/profile/{handle}/post/{rkey}",
            brand=self.config.brand,
            payload=payload,
        )


def _indexed(post: dict, default: datetime) -> datetime:
    try:
        return parse_timestamp(post.get("indexedAt"))
    except ValueError:
        return default
