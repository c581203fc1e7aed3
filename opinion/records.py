"""The records every stage passes around: a collected `Post` and an extracted `Mention`.

Ground layer: no imports from the rest of `opinion`. Ids are derived, never random, so the
same post collected twice (or re-extracted) lands on the same row.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

POLARITIES = ("positive", "negative", "neutral")


def stable_id(*parts: object) -> str:
    """A short, deterministic id from the given parts (sha1, 16 hex chars)."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()[:16]


def post_id_for(source: str, native_id: str) -> str:
    """`post_id` is a function of source + native id: collecting twice gives one row."""
    return stable_id(source, native_id)


@dataclass(slots=True)
class Post:
    """One public post or review, as collected (text already redacted, author hashed)."""

    source: str
    native_id: str
    text: str
    created_at: datetime
    url: str | None = None
    author_hash: str | None = None
    brand: str | None = None
    rating: int | None = None
    language: str | None = None
    raw: str | None = None  # JSON of the source record, redacted, kept for audit
    post_id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.source or not str(self.native_id):
            raise ValueError("post needs a source and a native id")
        self.native_id = str(self.native_id)
        if self.created_at.tzinfo is None:
            raise ValueError(f"created_at must carry a time zone: {self.created_at!r}")
        self.created_at = self.created_at.astimezone(UTC)
        if self.rating is not None and not 1 <= int(self.rating) <= 5:
            raise ValueError(f"rating must be 1..5, got {self.rating!r}")
        self.post_id = self.post_id or post_id_for(self.source, self.native_id)

    @property
    def day(self) -> str:
        """The lake partition day (UTC) this post belongs to."""
        return self.created_at.strftime("%Y-%m-%d")

    def to_row(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Mention:
    """One aspect of one post with the sentiment about it, stamped with the model version."""

    post_id: str
    term: str
    start: int
    end: int
    aspect: str
    polarity: str
    confidence: float
    model_version: str
    mention_id: str = field(default="")

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, got {self.polarity!r}")
        self.mention_id = self.mention_id or stable_id(self.post_id, self.start, self.end)


@dataclass(slots=True)
class RawRecord:
    """What a source yields before privacy is applied: the collect stage (one place, not each
    connector) hashes `author`, redacts `text` and scrubs `payload` to make a `Post`."""

    source: str
    native_id: str
    text: str
    created_at: datetime
    author: str | None = None
    url: str | None = None
    brand: str | None = None
    rating: int | None = None
    payload: dict = field(default_factory=dict)


@dataclass(slots=True)
class Reject:
    """A record that could not become a post, with a one-line reason. Goes to `rejects`."""

    source: str
    record: str
    reason: str
    stage: str = "collect"
