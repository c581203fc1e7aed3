"""Apple App Store: the most recent customer reviews of one app, from Apple's public RSS feed.

Collects `GET https://itunes.apple.com/{country}/rss/customerreviews/page={n}/id={app_id}/
sortby=mostrecent/json` for n = 1..10 (Apple serves at most 10 pages of 50 reviews). Response:
`{"feed": {"entry": [...], "updated": {"label": …}, "link": [...], …}}`; `entry` is a list, a
single object when there is one review, or absent when there are none. A review entry has
`id.label`, `author.name.label`, `updated.label`, `title.label`, `content.label`,
`im:rating.label` ("1".."5", kept in `rating`), `im:version.label`, `im:voteSum`,
`im:voteCount`. The first entry of some pages is the app's own metadata (`im:name`,
`im:artist`, no `im:rating`): skipped. Text: content (the
title is the `title` field; a review with a title only has it as its text); rating scale 1-5.

Auth: none. Limits: Apple throttles aggressive clients (403/429); 10 pages × 50 reviews.
URL: the app's reviews page `https://apps.apple.com/{country}/app/id{app_id}?see-all=reviews`
(Apple publishes no per-review address).

Cursor: `{"since": <ISO updated time of the newest review committed>}`; a run reads pages
from 1 and stops at the first review older than that. While a walk is under way the cursor
also holds `page` and `top`; new reviews arriving mid-walk only push older ones onto later
pages, so resuming re-reads some (merged by id) and misses none.

Config example::

    - name: appstore_jetblue
      source: appstore
      brands: [JetBlue]
      options: {app_id: "1234567890", country: us}
"""

from __future__ import annotations

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
from opinion.sources.http import safe_url
from opinion.sources.timeparse import parse_timestamp

MAX_PAGES = 10


@dataclass(frozen=True)
class AppStoreConfig(SourceConfig):
    connector = "appstore"
    default_base_url = "https://itunes.apple.com"

    app_id: str = ""
    country: str = "us"
    max_pages: int = MAX_PAGES

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "app_id", str(self.app_id).strip().removeprefix("id"))
        if not self.app_id.isdigit():
            self._bad("app_id", self.app_id, "must be the numeric App Store id")
        if not (len(self.country) == 2 and self.country.isalpha()):
            self._bad("country", self.country, "must be a two-letter store code like 'us'")
        object.__setattr__(self, "country", self.country.lower())
        if self.max_pages > MAX_PAGES:
            self._bad("max_pages", self.max_pages, f"Apple serves at most {MAX_PAGES} pages")


def _label(entry: dict, name: str) -> str | None:
    value = entry.get(name)
    if isinstance(value, dict):
        label = value.get("label")
        return None if label is None else str(label)
    return None


class AppStoreSource(Source):
    config: AppStoreConfig

    def _key_parts(self) -> list[str]:
        return [self.config.country, self.config.app_id]

    def pages(self, cursor: str | None) -> Iterator[Page]:
        cfg = self.config
        state = load_cursor(cursor)
        since = state.get("since") or (cfg.since.isoformat() if cfg.since else None)
        since_dt = parse_timestamp(since) if since else None
        page, top = int(state.get("page") or 1), state.get("top")
        seen: set[str] = set()
        while page <= cfg.max_pages:
            url = (
                f"{cfg.base_url}/{cfg.country}/rss/customerreviews/page={page}"
                f"/id={cfg.app_id}/sortby=mostrecent/json"
            )
            data, _response, reject = self.fetch_json(url)
            key = safe_url(url)
            if reject is not None:
                if page < cfg.max_pages:
                    page += 1
                    yield Page(
                        [reject], dump_cursor({"since": since, "top": top, "page": page}), key
                    )
                    continue
                done = {"since": top or since}
                walk = {"since": since, "top": top, "page": page, "fail": state.get("fail")}
                yield Page([reject], retry_or_skip(walk, done), key)
                return
            feed = data.get("feed") if isinstance(data, dict) else None
            if not isinstance(feed, dict):
                raise TerminalError(f"appstore: expected an object with 'feed' from {key}")
            entries = feed.get("entry") or []
            if isinstance(entries, dict):
                entries = [entries]
            if not isinstance(entries, list):
                raise TerminalError(f"appstore: feed.entry is neither a list nor an object ({key})")
            records: list[RawRecord | Reject] = []
            skipped, reached_old = 0, False
            for entry in entries:
                if not isinstance(entry, dict) or "im:rating" not in entry:
                    skipped += 1  # the app's metadata entry
                    continue
                item = self._record(entry)
                if isinstance(item, RawRecord):
                    if since_dt is not None and item.created_at < since_dt:
                        reached_old = True
                        break
                    top = max(top or "", item.created_at.isoformat())
                    if item.native_id in seen:
                        skipped += 1
                        continue
                    seen.add(item.native_id)
                records.append(item)
            if reached_old or not entries or page >= cfg.max_pages:
                yield Page(records, dump_cursor({"since": top or since}), key, skipped)
                return
            page += 1
            yield Page(
                records, dump_cursor({"since": since, "top": top, "page": page}), key, skipped
            )

    def _record(self, entry: dict) -> RawRecord | Reject:
        cfg = self.config
        review_id = _label(entry, "id")
        if not review_id:
            return Reject(self.name, str(entry)[:2000], "review without id.label")
        title = (_label(entry, "title") or "").strip()
        content = (_label(entry, "content") or "").strip()
        text = content or title  # the title is its own field (read with the text)
        if not text:
            return Reject(self.name, review_id, "review without title or content")
        try:
            rating = int(_label(entry, "im:rating") or "")
            if not 1 <= rating <= 5:
                raise ValueError
        except ValueError:
            return Reject(self.name, review_id, f"im:rating must be 1..5: {entry.get('im:rating')}")
        try:
            created = parse_timestamp(_label(entry, "updated"))
        except ValueError as exc:
            return Reject(self.name, review_id, f"bad updated: {exc}")
        author_obj = entry.get("author") if isinstance(entry.get("author"), dict) else {}
        author = _label(author_obj, "name")
        payload = {
            "id": review_id,
            "author": author,
            "updated": _label(entry, "updated"),
            "rating": rating,
            "version": _label(entry, "im:version"),
            "vote_sum": _label(entry, "im:voteSum"),
            "vote_count": _label(entry, "im:voteCount"),
            "app_id": cfg.app_id,
            "country": cfg.country,
        }
        return RawRecord(
            source=self.name,
            native_id=review_id,
            text=text,
            created_at=created,
            author=author,
            url=f"https://apps.apple.com/{cfg.country}/app/id{cfg.app_id}?see-all=reviews",
            brand=cfg.brand,
            rating=rating,
            payload=payload,
            rating_scale="1-5",  # Apple's stars
            title=title if content and title else None,
        )
