"""Reddit: submissions matching a query in a subreddit (or its newest comments), via OAuth.

Collects `GET https://oauth.reddit.com/r/{sub}/search?q=…&restrict_sr=1&sort=new&limit=…
&after=…&raw_json=1` (`listing: search`) or `GET /r/{sub}/comments?limit=…&after=…`
(`listing: comments`; with a query, only comments containing it are kept). Responses are
Listings: `{"kind": "Listing", "data": {"after": "t3_…", "before": null, "dist": n,
"children": [{"kind": "t3"|"t1", "data": {…}}]}}`; a submission (t3) has `name`, `title`,
`selftext`, `author`, `created_utc`, `permalink`, `subreddit`, `score`, `num_comments`; a
comment (t1) has `body`, `link_id`, `parent_id`. Text: title + selftext, or body.
`[deleted]`/`[removed]` bodies are skipped (a removed submission keeps its title); a
`[deleted]` author is dropped. URL: `https://www.reddit.com{permalink}`.

Auth: application-only OAuth (client credentials): `REDDIT_CLIENT_ID` / `REDDIT_CLIENT_SECRET`
from the environment (names configurable) are exchanged at
`https://www.reddit.com/api/v1/access_token` (HTTP Basic, `grant_type=client_credentials`) for a
bearer token. The secret and the token never appear in logs, errors, rejects or the lake.

Limits: 100 items per page, ~1,000 items per listing; 100 queries/min per client, announced in
`X-Ratelimit-Used/Remaining/Reset` (Reset = seconds to the window end) — when Remaining hits 0
the shared HTTP policy waits for the reset.

Cursor: `{"since": <newest created_utc committed>}`; each run walks the newest-first listing
with `after=<fullname>` and stops at the first item not newer than `since`. While a walk is
under way the cursor also holds `after` and `top`.

Config example::

    - name: reddit_airlines
      source: reddit
      options: {subreddit: travel, listing: search}
      queries: [jetblue, "delta airlines"]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

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

_GONE = {"[deleted]", "[removed]"}


@dataclass(frozen=True)
class RedditConfig(SourceConfig):
    connector = "reddit"
    default_base_url = "https://oauth.reddit.com"

    subreddit: str = ""
    listing: str = "search"  # search | comments
    token_url: str = "https://www.reddit.com/api/v1/access_token"
    client_id_env: str = "REDDIT_CLIENT_ID"
    client_secret_env: str = "REDDIT_CLIENT_SECRET"
    page_size: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        sub = self.subreddit.strip().removeprefix("r/").removeprefix("/r/")
        if not re.match(r"^[A-Za-z0-9_+]{2,64}$", sub):
            self._bad("subreddit", self.subreddit, "must be a subreddit name like 'travel'")
        object.__setattr__(self, "subreddit", sub)
        if self.listing not in ("search", "comments"):
            self._bad("listing", self.listing, "must be 'search' or 'comments'")
        if self.listing == "search" and not self.query:
            self._bad("query", self.query, "reddit search needs a query")
        if self.page_size > 100:
            self._bad("page_size", self.page_size, "Reddit allows at most 100")
        if not self.token_url.startswith(("http://", "https://")):
            self._bad("token_url", self.token_url, "must be an http(s) URL")


class RedditSource(Source):
    config: RedditConfig

    def __init__(self, config: RedditConfig, client=None) -> None:
        super().__init__(config, client)
        self._headers: dict[str, str] | None = None

    def _key_parts(self) -> list[str]:
        return [self.config.subreddit.lower(), self.config.listing, self.config.query or ""]

    def _token(self) -> dict[str, str]:
        if self._headers is not None:
            return self._headers
        cfg = self.config
        client_id = os.environ.get(cfg.client_id_env)
        secret = os.environ.get(cfg.client_secret_env)
        if not client_id or not secret:
            raise TerminalError(
                f"reddit: set {cfg.client_id_env} and {cfg.client_secret_env} in the environment"
            )
        register_secret(secret)
        response = self.client.post(
            cfg.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise TerminalError(
                "reddit: the token endpoint answered without access_token"
            ) from None
        register_secret(token)
        self._headers = {"Authorization": f"bearer {token}"}
        return self._headers

    def pages(self, cursor: str | None) -> Iterator[Page]:
        cfg = self.config
        headers = self._token()
        state = load_cursor(cursor)
        since = state.get("since")
        if since is None and cfg.since is not None:
            since = cfg.since.timestamp()
        since = float(since or 0)
        top, after = state.get("top"), state.get("after")
        if cfg.listing == "search":
            url = f"{cfg.base_url}/r/{cfg.subreddit}/search"
            base = {"q": cfg.query, "restrict_sr": 1, "sort": "new", "type": "link"}
        else:
            url, base = f"{cfg.base_url}/r/{cfg.subreddit}/comments", {}
        seen: set[str] = set()
        for _ in range(cfg.max_pages):
            params = {**base, "limit": cfg.page_size, "after": after, "raw_json": 1}
            data, _response, reject = self.fetch_json(url, params, headers)
            key = safe_url(url, params)
            if reject is not None:
                walk = {"since": since, "top": top, "after": after, "fail": state.get("fail")}
                yield Page([reject], retry_or_skip(walk, {"since": max(top or 0, since)}), key)
                return
            children = _children(data, key)
            records: list[RawRecord | Reject] = []
            skipped, reached_old = 0, False
            for child in children:
                body = child.get("data") if isinstance(child, dict) else None
                if not isinstance(body, dict) or not body.get("name"):
                    records.append(
                        Reject(self.name, str(child)[:2000], "listing item without name")
                    )
                    continue
                created = float(body.get("created_utc") or 0)
                if created and created <= since:
                    reached_old = True
                    break
                top = max(top or 0, created)
                item = self._record(body)
                if item is None or (isinstance(item, RawRecord) and item.native_id in seen):
                    skipped += 1
                    continue
                if isinstance(item, RawRecord):
                    seen.add(item.native_id)
                records.append(item)
            after = data["data"].get("after")
            if reached_old or not children or not after:
                yield Page(records, dump_cursor({"since": max(top or 0, since)}), key, skipped)
                return
            yield Page(
                records, dump_cursor({"since": since, "top": top, "after": after}), key, skipped
            )

    def _record(self, d: dict) -> RawRecord | Reject | None:
        name = str(d["name"])
        if name.startswith("t1_"):
            text = (d.get("body") or "").strip()
            if text in _GONE or not text:
                return None
        else:
            title = (d.get("title") or "").strip()
            selftext = (d.get("selftext") or "").strip()
            text = "\n\n".join(p for p in (title, "" if selftext in _GONE else selftext) if p)
            if not text:
                return None
        query = (self.config.query or "").lower()
        if self.config.listing == "comments" and query and query not in text.lower():
            return None
        author = d.get("author")
        author = None if not author or author in _GONE else str(author)
        try:
            created = parse_timestamp(d.get("created_utc"))
        except ValueError as exc:
            return Reject(self.name, name, f"bad created_utc: {exc}")
        permalink = d.get("permalink")
        payload = {
            "name": name,
            "author": author,
            "created_utc": d.get("created_utc"),
            "subreddit": d.get("subreddit"),
            "score": d.get("score"),
            "num_comments": d.get("num_comments"),
            "link_id": d.get("link_id"),
            "parent_id": d.get("parent_id"),
            "over_18": d.get("over_18"),
        }
        return RawRecord(
            source=self.name,
            native_id=name,
            text=text,
            created_at=created,
            author=author,
            url=f"https://www.reddit.com{permalink or '/by_id/' + name}",
            brand=self.config.brand,
            payload=payload,
        )


def _children(data: object, key: str) -> list:
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("data"), dict)
        or not isinstance(data["data"].get("children"), list)
    ):
        raise TerminalError(f"reddit: expected a Listing with data.children from {key}")
    return data["data"]["children"]
