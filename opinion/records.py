"""The records every stage passes around: a collected `Post` and an extracted `Mention`.

Ground layer: no imports from the rest of `opinion`. Ids are derived, never random, so the
same post collected twice (or re-extracted) lands on the same row.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

POLARITIES = ("positive", "negative", "neutral")
DEFAULT_RATING_SCALE = "1-5"
_SCALE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|\.\.|–|to)\s*(-?\d+(?:\.\d+)?)\s*$")
_YES = {"yes", "y", "true", "1", "recommended"}
_NO = {"no", "n", "false", "0", "not recommended"}


def stable_id(*parts: object) -> str:
    """A short, deterministic id from the given parts (sha1, 16 hex chars)."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()[:16]


def post_id_for(source: str, native_id: str) -> str:
    """`post_id` is a function of source + native id: collecting twice gives one row."""
    return stable_id(source, native_id)


@dataclass(frozen=True, slots=True)
class RatingScale:
    """The scale a source rates on (`1-5` stars, `1-10`, `0-10` NPS-style, ...).

    A rating is valid only inside its declared scale; `normalise` maps it onto 0..1 so ratings
    of different sources compare, and `stars` onto the 1..5 equivalent `posts.rating` keeps."""

    low: float
    high: float

    @classmethod
    def parse(cls, value: object) -> RatingScale:
        """`"1-10"`, `"0..10"`, `"1–5"`, `(1, 5)` or a `RatingScale`; one-line ValueError."""
        if isinstance(value, RatingScale):
            return value
        if isinstance(value, tuple | list) and len(value) == 2:
            low, high = (float(v) for v in value)
        else:
            m = _SCALE.match(str(value))
            if not m:
                raise ValueError(f"rating scale must look like 1-5, 1-10 or 0-10, got {value!r}")
            low, high = float(m.group(1)), float(m.group(2))
        if not low < high:
            raise ValueError(f"rating scale must go from low to high, got {value!r}")
        return cls(low, high)

    def __str__(self) -> str:
        return f"{_num(self.low)}-{_num(self.high)}"

    def normalise(self, value: float) -> float:
        """`value` on 0..1 (low → 0, high → 1); outside the scale is a ValueError."""
        if not self.low <= value <= self.high:
            raise ValueError(f"rating {_num(value)} is outside its scale {self}")
        return (value - self.low) / (self.high - self.low)

    def stars(self, value: float) -> int:
        """The 1..5 equivalent (1 + 4 × normalised, rounded half up) for `posts.rating`."""
        return int(1 + 4 * self.normalise(value) + 0.5)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def parse_rating(value: object) -> float | None:
    """A rating as given by a source (`"8"`, `8`, `"4.5"`), as a number; empty → None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"rating must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"rating must be a number, got {value!r}") from None
    if number != number:  # NaN: an empty cell of a numeric Parquet/JSON column
        if isinstance(value, str):  # but "nan" written out is a bad value, not a blank
            raise ValueError(f"rating must be a number, got {value!r}")
        return None
    return number


def parse_recommended(value: object) -> bool | None:
    """A yes/no recommendation (`yes`, `no`, `true`, `1`, ...); empty → None."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(f"recommended must be yes or no, got {value!r}")


_MISSING = {"", "n/a", "na", "none", "null", "-"}
_TRUE = {"1", "true", "yes", "y", "verified"}
_FALSE = {"0", "false", "no", "n", "unverified", "not verified"}


def review_attribute(value: object, limit: int = 200) -> str | None:
    """A review attribute as text: whitespace collapsed, "N/A" and blanks as missing."""
    if value is None:
        return None
    text = " ".join(str(value).split())[:limit]
    return None if text.casefold() in _MISSING else text


def parse_flag(value: object, what: str) -> bool | None:
    """A yes/no attribute (1/0, true/false, yes/no); None when missing, ValueError else."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in _MISSING:
        return None
    if text in _TRUE or text == "1.0":
        return True
    if text in _FALSE or text == "0.0":
        return False
    raise ValueError(f"{what} must be yes/no or 1/0, got {value!r}")


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
    rating: int | None = None  # 1..5 equivalent of the rating (compatibility), derived
    language: str | None = None
    raw: str | None = None  # JSON of the source record, redacted, kept for audit
    post_id: str = field(default="")
    title: str | None = None  # a review's headline; `text` stays the body
    recommended: bool | None = None  # the reviewer's own yes/no, where the source has it
    rating_value: float | None = None  # the rating as the source gave it, on `rating_scale`
    rating_scale: str | None = None  # e.g. "1-10"; default 1-5 when a rating has none
    rating_norm: float | None = None  # rating_value on 0..1, derived
    cabin: str | None = None  # review attributes, where the source has them ("Economy Class")
    traveller_type: str | None = None  # "Solo Leisure", "Business", ...
    route: str | None = None  # "London to Dublin"
    verified: bool | None = None  # the source marks the review as a verified trip

    def __post_init__(self) -> None:
        if not self.source or not str(self.native_id):
            raise ValueError("post needs a source and a native id")
        self.native_id = str(self.native_id)
        if self.created_at.tzinfo is None:
            raise ValueError(f"created_at must carry a time zone: {self.created_at!r}")
        self.created_at = self.created_at.astimezone(UTC)
        if self.rating_value is None and self.rating is not None:
            self.rating_value = self.rating  # the old way: a 1..5 star rating alone
        self.rating_value = parse_rating(self.rating_value)
        if self.rating_value is None:
            self.rating = self.rating_norm = None
        else:
            scale = RatingScale.parse(self.rating_scale or DEFAULT_RATING_SCALE)
            self.rating_norm = scale.normalise(self.rating_value)
            self.rating = scale.stars(self.rating_value)
            self.rating_scale = str(scale)
        self.recommended = parse_recommended(self.recommended)
        self.title = (self.title or "").strip() or None
        self.cabin = review_attribute(self.cabin)
        self.traveller_type = review_attribute(self.traveller_type)
        self.route = review_attribute(self.route)
        self.verified = parse_flag(self.verified, "verified")
        self.post_id = self.post_id or post_id_for(self.source, self.native_id)

    @property
    def day(self) -> str:
        """The lake partition day (UTC) this post belongs to."""
        return self.created_at.strftime("%Y-%m-%d")

    def to_row(self) -> dict:
        """The fields as a dict (every field is a scalar, so no `asdict` deep copy: it was a
        tenth of collect's privacy step, issue #25)."""
        return {name: getattr(self, name) for name in _POST_FIELDS}


_POST_FIELDS = tuple(f.name for f in fields(Post))


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
    in_title: bool = False  # start/end index the post's `title`, not its `text`

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, got {self.polarity!r}")
        self.mention_id = self.mention_id or (
            stable_id(self.post_id, "title", self.start, self.end)
            if self.in_title
            else stable_id(self.post_id, self.start, self.end)
        )


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
    rating: float | None = None  # as the source gave it, on `rating_scale`
    payload: dict = field(default_factory=dict)
    rating_scale: str | None = None  # the source's declared scale; None = 1-5 stars
    title: str | None = None
    recommended: bool | None = None
    cabin: str | None = None  # review attributes (see Post)
    traveller_type: str | None = None
    route: str | None = None
    verified: bool | None = None


@dataclass(slots=True)
class Reject:
    """A record that could not become a post, with a one-line reason. Goes to `rejects`."""

    source: str
    record: str
    reason: str
    stage: str = "collect"
