"""Platform simulators for connector tests: each serves a list of items through a real HTTP
route, shaped like the platform's documented responses, with its real paging and filters.

An item is `Item(n, text, ts)`: `n` orders items (newer = larger), `ts` is a Unix time.
`Sim.fail` maps a page number (0-based, in the order the walk requests them) to a status the
server answers the first time that page is asked for (401 simulates a crash between pages);
`Sim.malformed` truncates the JSON body of that page once; `Sim.dup` repeats the last item
of each page as the first item of the next (what offset paging does when items arrive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from conftest import FakeApi, Req, Resp

BASE_TS = 1_717_200_000  # 2024-06-01T00:00:00Z


@dataclass
class Item:
    n: int
    text: str
    ts: int = 0
    author: str = "alice"
    deleted: bool = False

    def __post_init__(self) -> None:
        self.ts = self.ts or BASE_TS + self.n * 3600


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Sim:
    api: FakeApi
    items: list[Item]
    page_size: int = 2
    fail: dict[int, int] = field(default_factory=dict)
    malformed: set[int] = field(default_factory=set)
    dup: bool = False
    slow: set[int] = field(default_factory=set)  # pages answered after a delay, once
    retry_after: set[int] = field(default_factory=set)  # pages answered 429 once
    served: list[int] = field(default_factory=list)

    def newest_first(self) -> list[Item]:
        return sorted(self.items, key=lambda i: -i.n)

    def page_items(self, pool: list[Item], start: int) -> tuple[list[Item], bool]:
        chunk = pool[start : start + self.page_size]
        if self.dup and start > 0 and chunk:
            chunk = [pool[start - 1], *chunk]
        return chunk, start + self.page_size < len(pool)

    def answer(self, page: int, body, headers=None) -> Resp:
        first_time = page not in self.served
        self.served.append(page)
        if first_time and page in self.fail:
            return Resp(self.fail.pop(page), {"error": "AuthenticationRequired"})
        if first_time and page in self.retry_after:
            self.retry_after.discard(page)
            return Resp(429, {"error": "RateLimitExceeded"}, {"Retry-After": "1"})
        if first_time and page in self.slow:
            self.slow.discard(page)
            return Resp(200, body, headers or {}, delay=1.0)
        if first_time and page in self.malformed:
            self.malformed.discard(page)
            text = json.dumps(body)
            return Resp(200, text[: len(text) // 2].encode(), headers or {})
        return Resp(200, body, headers or {})


# ---------------------------------------------------------------- mastodon


class MastodonSim(Sim):
    tag = "delta"

    def install(self) -> None:
        self.api.route(f"/api/v1/timelines/tag/{self.tag}", self.handle)

    def status(self, it: Item, outer: int | None = None) -> dict:
        host = "social.example"
        st = {
            "id": str(it.n * 1000),
            "created_at": iso(it.ts),
            "in_reply_to_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": "en",
            "uri": f"https://{host}/users/{it.author}/statuses/{it.n * 1000}",
            "url": f"https://{host}/@{it.author}/{it.n * 1000}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 1,
            "content": ""
            if it.deleted
            else f'<p>{it.text} <a href="https://{host}/tags/'
            f'{self.tag}" class="mention hashtag">#<span>{self.tag}</span></a></p>',
            "reblog": None,
            "account": {
                "id": "1",
                "username": it.author,
                "acct": it.author,
                "display_name": it.author.title(),
                "url": f"https://{host}/@{it.author}",
            },
            "media_attachments": [],
            "mentions": [],
            "tags": [{"name": self.tag, "url": f"https://{host}/tags/{self.tag}"}],
        }
        if outer is not None:  # a reblog of `it`
            wrapper = dict(st, id=str(outer), content="", reblog=st, uri=st["uri"] + "/activity")
            wrapper["account"] = {"id": "2", "username": "bob", "acct": "bob"}
            return wrapper
        return st

    def handle(self, req: Req) -> Resp:
        since = int(req.query.get("since_id") or 0)
        max_id = int(req.query.get("max_id") or 10**12)
        limit = int(req.query.get("limit") or 20)
        assert limit == self.page_size
        pool = [i for i in self.newest_first() if since < i.n * 1000]
        start = next((k for k, i in enumerate(pool) if i.n * 1000 < max_id), len(pool))
        page = start // self.page_size
        chunk = pool[start : start + self.page_size]
        statuses = [self.status(i) for i in chunk]
        if self.dup and start > 0 and chunk:  # a reblog of the previous page's last status
            statuses.insert(0, self.status(pool[start - 1], outer=chunk[0].n * 1000 + 1))
        headers = {}
        if chunk:
            path = f"{self.api.url}/api/v1/timelines/tag/{self.tag}"
            headers["Link"] = (
                f'<{path}?max_id={chunk[-1].n * 1000}>; rel="next", '
                f'<{path}?min_id={chunk[0].n * 1000}>; rel="prev"'
            )
        return self.answer(page, statuses, headers)

    def options(self) -> dict:
        return {"base_url": self.api.url, "query": self.tag, "page_size": self.page_size}


# ---------------------------------------------------------------- bluesky


class BlueskySim(Sim):
    def install(self) -> None:
        self.api.route("/xrpc/app.bsky.feed.searchPosts", self.handle)

    def post(self, it: Item) -> dict:
        did = f"did:plc:{it.author}000000000000"
        uri = f"at://{did}/app.bsky.feed.post/3k{it.n:011d}"
        post = {
            "uri": uri,
            "cid": f"bafyrei{it.n:020d}",
            "author": {"did": did, "handle": f"{it.author}.bsky.social", "displayName": "A"},
            "record": {
                "$type": "app.bsky.feed.post",
                "text": it.text,
                "createdAt": iso(it.ts),
                "langs": ["en"],
            },
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 2,
            "quoteCount": 0,
            "indexedAt": iso(it.ts + 1),
            "labels": [],
        }
        if it.deleted:
            post["record"] = {"$type": "app.bsky.feed.post", "createdAt": iso(it.ts)}
        return post

    def handle(self, req: Req) -> Resp:
        assert req.query["sort"] == "latest" and req.query["q"]
        since, until = req.query.get("since"), req.query.get("until")
        pool = [
            i
            for i in self.newest_first()
            if (not since or iso(i.ts) >= since) and (not until or iso(i.ts) < until)
        ]
        start = int(req.query.get("cursor") or 0)
        chunk, more = self.page_items(pool, start)
        body = {"posts": [self.post(i) for i in chunk], "hitsTotal": len(pool)}
        if more:
            body["cursor"] = str(start + self.page_size)
        return self.answer(start // self.page_size, body)

    def options(self) -> dict:
        return {"base_url": self.api.url, "query": "delta", "page_size": self.page_size}


# ---------------------------------------------------------------- hacker news


class HackerNewsSim(Sim):
    def install(self) -> None:
        self.api.route("/api/v1/search_by_date", self.handle)

    def hit(self, it: Item) -> dict:
        comment = it.n % 2 == 0
        hit = {
            "created_at": iso(it.ts),
            "created_at_i": it.ts,
            "author": it.author,
            "objectID": str(40_000_000 + it.n),
            "_tags": ["comment" if comment else "story", f"author_{it.author}"],
            "points": None if comment else 10,
            "title": None if comment else it.text,
            "url": None,
            "story_text": None,
            "comment_text": f"<p>{it.text}</p>" if comment else None,
            "num_comments": None if comment else 3,
            "story_id": 39_999_999 if comment else None,
            "story_title": "Airlines thread" if comment else None,
            "parent_id": 39_999_999 if comment else None,
            "_highlightResult": {},
        }
        if it.deleted:
            hit["comment_text"] = hit["title"] = None
        return hit

    def handle(self, req: Req) -> Resp:
        assert req.query["tags"] == "(story,comment)"
        lo, hi = 0, 10**12
        for f in req.query["numericFilters"].split(","):
            if f.startswith("created_at_i>="):
                lo = int(f.split(">=")[1]) - 1
            elif f.startswith("created_at_i>"):
                lo = int(f.split(">")[1])
            elif f.startswith("created_at_i<="):
                hi = int(f.split("<=")[1])
        pool = [i for i in self.newest_first() if lo < i.ts <= hi]
        per = int(req.query["hitsPerPage"])
        page = int(req.query.get("page") or 0)
        chunk, _ = self.page_items(pool, page * per)
        nb = (len(pool) + per - 1) // per
        body = {
            "hits": [self.hit(i) for i in chunk],
            "nbHits": len(pool),
            "page": page,
            "nbPages": nb,
            "hitsPerPage": per,
            "exhaustiveNbHits": True,
            "query": req.query["query"],
            "params": "",
            "processingTimeMS": 1,
        }
        return self.answer(page, body)

    def options(self) -> dict:
        return {"base_url": self.api.url, "query": "delta", "page_size": self.page_size}


# ---------------------------------------------------------------- reddit

REDDIT_SECRET = "s3cr3t-reddit-client-secret-value"
REDDIT_TOKEN = "tok-reddit-access-token-0123456789"


class RedditSim(Sim):
    def install(self) -> None:
        self.api.route("/api/v1/access_token", self.token)
        self.api.route("/r/travel/search", self.handle)

    def token(self, req: Req) -> Resp:
        assert req.method == "POST" and req.headers["authorization"].startswith("Basic ")
        assert b"grant_type=client_credentials" in req.body
        return Resp(
            200,
            {
                "access_token": REDDIT_TOKEN,
                "token_type": "bearer",
                "expires_in": 86400,
                "scope": "*",
            },
        )

    def thing(self, it: Item) -> dict:
        data = {
            "id": f"abc{it.n}",
            "name": f"t3_abc{it.n}",
            "title": it.text,
            "selftext": "[removed]" if it.deleted else "Long story about my flight.",
            "author": "[deleted]" if it.deleted else it.author,
            "created_utc": float(it.ts),
            "permalink": f"/r/travel/comments/abc{it.n}/a_title/",
            "url": f"https://www.reddit.com/r/travel/comments/abc{it.n}/a_title/",
            "subreddit": "travel",
            "score": 5,
            "num_comments": 2,
            "over_18": False,
        }
        return {"kind": "t3", "data": data}

    def handle(self, req: Req) -> Resp:
        if req.headers.get("authorization") != f"bearer {REDDIT_TOKEN}":
            return Resp(401, {"message": "Unauthorized", "error": 401})
        assert req.query["restrict_sr"] == "1" and req.query["sort"] == "new"
        pool = self.newest_first()
        after = req.query.get("after")
        start = 0
        if after:
            start = next(k for k, i in enumerate(pool) if f"t3_abc{i.n}" == after) + 1
        chunk, more = self.page_items(pool, start)
        body = {
            "kind": "Listing",
            "data": {
                "after": f"t3_abc{chunk[-1].n}" if more and chunk else None,
                "dist": len(chunk),
                "modhash": "",
                "geo_filter": "",
                "children": [self.thing(i) for i in chunk],
                "before": None,
            },
        }
        headers = {
            "X-Ratelimit-Used": "1",
            "X-Ratelimit-Remaining": "99.0",
            "X-Ratelimit-Reset": "60",
        }
        return self.answer(start // self.page_size, body, headers)

    def options(self) -> dict:
        return {
            "base_url": self.api.url,
            "token_url": self.api.url + "/api/v1/access_token",
            "subreddit": "travel",
            "query": "delta",
            "page_size": self.page_size,
        }


# ---------------------------------------------------------------- app store


class AppStoreSim(Sim):
    app_id = "123456789"

    def install(self) -> None:
        self.api.route("/us/rss/customerreviews/", self.handle)

    def entry(self, it: Item) -> dict:
        return {
            "author": {
                "uri": {"label": f"https://itunes.apple.com/us/reviews/id{it.n}"},
                "name": {"label": it.author},
                "label": "",
            },
            "updated": {
                "label": datetime.fromtimestamp(it.ts, UTC).strftime("%Y-%m-%dT%H:%M:%S-07:00")
            },
            "im:rating": {"label": str(1 + it.n % 5)},
            "im:version": {"label": "5.1.0"},
            "id": {"label": str(10_000_000_000 + it.n)},
            "title": {"label": it.text.split(".")[0]},
            "content": {"label": it.text, "attributes": {"type": "text"}},
            "link": {"attributes": {"rel": "related", "href": "https://apps.apple.com/x"}},
            "im:voteSum": {"label": "0"},
            "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
            "im:voteCount": {"label": "0"},
        }

    def metadata(self) -> dict:
        return {
            "im:name": {"label": "Airline App"},
            "im:artist": {"label": "Airline Inc."},
            "im:price": {"label": "Get", "attributes": {"amount": "0.00", "currency": "USD"}},
            "id": {"label": f"https://apps.apple.com/us/app/id{self.app_id}"},
        }

    def handle(self, req: Req) -> Resp:
        parts = req.path.split("/")
        page = int(parts[4].split("=")[1])
        assert parts[5] == f"id={self.app_id}" and parts[6] == "sortby=mostrecent"
        pool = [i for i in self.newest_first() if not i.deleted]
        chunk, _ = self.page_items(pool, (page - 1) * self.page_size)
        feed = {
            "author": {
                "name": {"label": "iTunes Store"},
                "uri": {"label": "http://www.apple.com/itunes/"},
            },
            "updated": {"label": "2024-06-02T00:00:00-07:00"},
            "rights": {"label": "Copyright 2008 Apple Inc."},
            "title": {"label": "iTunes Store: Customer Reviews"},
            "id": {"label": req.path},
        }
        entries = [self.entry(i) for i in chunk]
        if page == 1 and entries:
            entries.insert(0, self.metadata())
        if len(entries) == 1:
            feed["entry"] = entries[0]  # a single entry is an object, not a list
        elif entries:
            feed["entry"] = entries
        return self.answer(page - 1, {"feed": feed})

    def options(self) -> dict:
        return {
            "base_url": self.api.url,
            "app_id": self.app_id,
        }


SIMS = {
    "mastodon": MastodonSim,
    "bluesky": BlueskySim,
    "hackernews": HackerNewsSim,
    "reddit": RedditSim,
    "appstore": AppStoreSim,
}
