"""URLs without the person: credentials, query and fragment dropped, and every path segment
that names someone replaced, for every source and wherever the URL sits (text, title,
payload, `posts.url`).

Why: a link is evidence of where an opinion was said, but `twitter.com/NAME/status/ID`,
`facebook.com/jan.kowal`, `linkedin.com/in/NAME`, `/@NAME` and `/users/jan@x.pl/` carry the
author or a third person. Segments naming someone become `_` (twitter's status links get its
own anonymous `/i/status/ID`, which still resolves); brand and organisation handles stay.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["clean_url", "scrub_path"]

_URL_TRAILING = ".,;:!?)]}'\"…"
_TWITTER = ("twitter.com", "x.com")
# hosts whose first path segment is a profile (facebook.com/NAME, instagram.com/NAME, ...)
_PROFILE_FIRST = (
    *_TWITTER, "facebook.com", "fb.com", "instagram.com", "tiktok.com", "github.com",
    "medium.com", "threads.net", "pinterest.com", "snapchat.com", "vk.com", "t.me",
    "youtube.com", "twitch.tv", "soundcloud.com", "flickr.com", "tumblr.com", "quora.com",
    "telegram.me", "wa.me", "about.me", "linktr.ee", "patreon.com", "onlyfans.com",
)  # fmt: skip
# a segment after one of these names someone: /in/NAME (linkedin), /user/NAME (reddit), ...
_BEFORE_NAME = frozenset(
    [
        "in",
        "u",
        "user",
        "users",
        "profile",
        "profiles",
        "people",
        "person",
        "pub",
        "member",
        "members",
        "author",
        "authors",
        "channel",
        "c",
        "add",
        "id",
    ]  # noqa: SIM905
)
# first segments of those hosts that are pages, not people
_NOT_A_PROFILE = frozenset(
    [
        "i",
        "home",
        "search",
        "hashtag",
        "explore",
        "intent",
        "share",
        "sharer",
        "watch",
        "results",
        "pages",
        "groups",
        "events",
        "help",
        "about",
        "legal",
        "policies",
        "settings",
        "login",
        "signup",
        "status",
        "statuses",
        "p",
        "reel",
        "reels",
        "tv",
        "watch",
        "marketplace",
        "gaming",
        "stories",
        "notifications",
        "messages",
        "privacy",
        "terms",
        "embed",
        "oembed",
        "r",
        "s",
        "t",
        "topics",
        "topic",
        "places",
        "place",
    ]  # noqa: SIM905
)
# a token that may be a secret or a personal id: 16+ chars mixing letters and digits
_TOKEN = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-=]{16,}$")
_NUMERIC_ID = re.compile(r"^\d+$")


def _host_is(host: str, names: Collection[str]) -> bool:
    return any(host == n or host.endswith("." + n) for n in names)


def scrub_path(host: str, path: str, keep: Collection[str] = (), author: str | None = None) -> str:
    """`path` with every segment that names a person (or carries a token) replaced by `_`;
    on twitter the author of a status becomes `i`."""
    host = host.lower()
    segments = path.split("/")
    name = (author or "").strip().lstrip("@").lower()
    for i, seg in enumerate(segments):
        if not seg:
            continue
        low = seg.lstrip("@").lower()
        prev = segments[i - 1].lower() if i else ""
        if low in keep:
            continue
        twitter_status = (
            _host_is(host, _TWITTER) and i == 1 and len(segments) > 2 and segments[2] == "status"
        )
        if twitter_status:
            segments[i] = "i"
            continue
        profile = i == 1 and _host_is(host, _PROFILE_FIRST) and low not in _NOT_A_PROFILE
        if (
            profile
            or (len(name) >= 3 and name in low)
            or "@" in seg
            or "%40" in low
            or prev in _BEFORE_NAME
            or _TOKEN.match(seg)
        ) and not (_NUMERIC_ID.match(seg) and not profile):
            segments[i] = "_"
    return "/".join(segments)


def clean_url(url: str, keep: Collection[str] = (), author: str | None = None) -> str:
    """scheme://host/path of a URL: user:password@, query and fragment dropped, path
    segments naming someone replaced (`scrub_path`); trailing punctuation (the sentence's,
    not the URL's) kept."""
    stripped = url.rstrip(_URL_TRAILING)
    tail = url[len(stripped) :]
    base = re.split(r"[?#]", stripped, maxsplit=1)[0]
    scheme, sep, rest = base.partition("://")
    if not sep:
        scheme, rest = "", base
    host, slash, path = rest.partition("/")
    host = host.rpartition("@")[2]
    bare = host.split(":")[0]
    bare = bare[4:] if bare.lower().startswith("www.") else bare
    if slash:
        path = scrub_path(bare, "/" + path, keep, author)[1:]
    return f"{scheme}{sep}{host}{slash}{path}" + tail
