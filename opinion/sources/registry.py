"""The connector registry: name → (config class, factory), and which connectors can fetch an
exact time window (backfills).

`build_source(name, **options)` validates the options and returns a ready `Source`. The runner
that writes a source's pages into the lake is the collect wing (`opinion.collect.jobs`);
connectors never import it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from opinion.sources.appstore import AppStoreConfig, AppStoreSource
from opinion.sources.base import Source, SourceConfig, dump_cursor
from opinion.sources.bluesky import BlueskyConfig, BlueskySource
from opinion.sources.hackernews import HackerNewsConfig, HackerNewsSource
from opinion.sources.localfiles import FilesConfig, FilesSource
from opinion.sources.mastodon import MastodonConfig, MastodonSource
from opinion.sources.reddit import RedditConfig, RedditSource
from opinion.sources.rss import RssConfig, RssSource

SOURCES: dict[str, tuple[type[SourceConfig], Callable[..., Source]]] = {
    "mastodon": (MastodonConfig, MastodonSource),
    "bluesky": (BlueskyConfig, BlueskySource),
    "hackernews": (HackerNewsConfig, HackerNewsSource),
    "reddit": (RedditConfig, RedditSource),
    "appstore": (AppStoreConfig, AppStoreSource),
    "rss": (RssConfig, RssSource),
    "files": (FilesConfig, FilesSource),
}


def build_source(connector: str, /, client=None, **options: Any) -> Source:
    """A validated, ready `Source` for `connector` (one-line ValueError otherwise). `name` in
    the options is the lake source name (default: the connector name)."""
    if connector not in SOURCES:
        raise ValueError(f"unknown source {connector!r} (known: {', '.join(sorted(SOURCES))})")
    config_class, factory = SOURCES[connector]
    return factory(config_class.from_options(**options), client)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


#: Connectors that can fetch a time window, and the cursor that asks them for exactly it
#: (their cursors carry both bounds): a backfill of one day collects that day.
WINDOWED: dict[str, Callable[[datetime, datetime], str]] = {
    "bluesky": lambda since, until: dump_cursor({"since": _iso(since), "until": _iso(until)}),
    "hackernews": lambda since, until: dump_cursor(
        {"since": int(since.timestamp()), "upper": int(until.timestamp())}
    ),
}
