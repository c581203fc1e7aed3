"""The raw payload kept for audit, without personal data: every string, key and long number
of a source record redacted, author fields hashed, geolocation dropped.

Why a module of its own: the payload is a tree (keys, nested lists, numbers), text is a string;
`opinion.clean.privacy` redacts strings, this walks the tree and decides what each leaf is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opinion.clean.not_personal import org_handle
from opinion.clean.privacy import Redactor, hash_author

__all__ = ["payload_strings", "scrub_payload", "scrub_record", "strip_author"]

GEO_KEY = re.compile(
    r"coord|geo|latitude|longitude|^(?:lat|lng|lon|long)$|location|place|address", re.IGNORECASE
)
#: Keys whose scalar value names a person, at any depth of a payload (hashed, not redacted).
AUTHOR_KEYS = frozenset(
    {"screen_name", "username", "user_name", "display_name", "author", "handle", "acct", "name"}
)


#: Keys whose numbers are counts, times or ids, not contact details (kept as numbers).
NUMBER_KEY = re.compile(
    r"(?i)(?:^|_)(?:id|ids|id_str|count|total|timestamp|ts|time|epoch|created|date|year|"
    r"size|bytes|length|followers|friends|likes|retweets|favou?rites|views|score|rating|"
    r"amount|price|stars|votes)(?:$|_)|_at$|count$|Id$"
)
_LONG_NUMBER = 1_000_000  # 7+ digits: a phone, card, SSN or account number may hide there


def _number_text(value: Any) -> str | None:
    """The text of a number worth redacting (7+ integer digits), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        whole = int(value)
    except (OverflowError, ValueError):  # inf, nan
        return None
    if abs(whole) < _LONG_NUMBER:
        return None
    return str(whole) if whole == value else repr(value)


def _id_value(key: object, value: Any) -> bool:
    """A digit-string id (`"id_str": "5703…"`): kept, a tweet id is not a card number."""
    return isinstance(value, str) and value.isdigit() and bool(NUMBER_KEY.search(str(key)))


def payload_strings(value: Any, out: list[str]) -> list[str]:
    """Every string of a JSON-like value (depth-first) that scrubbing keeps as text, for
    batch redaction: keys too, long numbers as text (values under geolocation keys are
    dropped, author keys hashed, digit ids kept)."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if GEO_KEY.search(str(key)):
                continue
            out.append(str(key))  # `_scrub` redacts every key it keeps, author keys too
            if str(key).lower() in AUTHOR_KEYS and not isinstance(item, (Mapping, list, tuple)):
                continue
            if not _id_value(key, item):
                payload_strings(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            payload_strings(item, out)
    return out


def _scrub(value: Any, authors: frozenset[str], salt: str, clean: Mapping[str, str], strip) -> Any:
    if isinstance(value, str):
        if value not in clean:  # not batched by the caller (an author-valued field)
            return strip(Redactor().redact(value))
        return strip(clean[value])
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if GEO_KEY.search(str(key)):
                continue
            name = _scrub(str(key), authors, salt, clean, strip)
            while name in out:  # two keys redacted alike: both kept
                name += "_"
            if (key in authors or str(key).lower() in AUTHOR_KEYS) and not isinstance(
                item, (Mapping, list, tuple)
            ):
                out[name] = hash_author(None if item is None else str(item), salt)
            elif _id_value(key, item):
                out[name] = item
            elif _number_text(item) is not None and not NUMBER_KEY.search(str(key)):
                out[name] = "[number]"
            else:
                out[name] = _scrub(item, authors, salt, clean, strip)
        return out
    if isinstance(value, (list, tuple)):  # a long number in a list: "[number]"
        return [
            "[number]"
            if _number_text(item) is not None
            else _scrub(item, authors, salt, clean, strip)
            for item in value
        ]
    return value


def scrub_record(
    record: Mapping[str, Any],
    author_fields: Iterable[str],
    salt: str,
    keep_handles: Iterable[str] = (),
    *,
    clean: Mapping[str, str] | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    """A PII-free copy of a raw source record, for keeping the payload for audit.

    Keys named in `author_fields` or in `AUTHOR_KEYS` (at any depth) holding a scalar are
    hashed with `hash_author`; geolocation keys (`GEO_KEY`: coordinates, lat/lng, locations)
    are dropped at any depth; every other string, nested ones included, is normalised and
    redacted — `clean` maps raw strings to their redacted form when the caller batched them.
    The author's own name is replaced where else it appears. The input is not modified.
    """
    from opinion.clean.normalize import normalize_text

    keep = tuple(keep_handles)
    if clean is None:
        strings = payload_strings(record, [])
        normal = [normalize_text(s) for s in strings]
        clean = dict(zip(strings, Redactor(keep).redact_many(normal), strict=True))
    return _scrub(record, frozenset(author_fields), salt, clean, author_stripper(author, keep))


def strip_author(text: str, author: str | None, keep_handles: Iterable[str] = ()) -> str:
    """Replace the author's own name where it recurs (their signature, hashtag, profile
    location) with `[author]`. Brand accounts posting as themselves keep their name."""
    return author_stripper(author, keep_handles)(text)


def author_stripper(author: str | None, keep_handles: Iterable[str] = ()) -> Callable[[str], str]:
    """`strip_author` for one author, decided and compiled once (a payload has a dozen
    strings per record)."""
    name = (author or "").strip().lstrip("@")
    if len(name) < 4 or name.lower() in {h.lower().lstrip("@") for h in keep_handles}:
        return _same
    if org_handle(name):  # an organisation's account posting: its name is the object
        return _same
    low, escaped, plain = name.lower(), re.escape(name), name.isascii()

    def strip(text: str) -> str:
        if plain and text.isascii() and low not in text.lower():
            return text  # (most strings) no need to compile a pattern per author
        return re.sub(escaped, "[author]", text, flags=re.IGNORECASE) if text else text

    return strip


def _same(text: str) -> str:
    return text


def scrub_payload(
    payload: dict,
    author: str | None,
    salt: str,
    keep_handles: Iterable[str] = (),
    clean: Mapping[str, str] | None = None,
) -> dict:
    """The raw record kept for audit, without personal data: author fields hashed, contact
    details and names redacted, geolocation dropped, the author's name removed wherever
    else it appears (`scrub_record`)."""
    author_fields = [k for k, v in payload.items() if author and v == author]
    return scrub_record(payload, author_fields, salt, keep_handles, clean=clean, author=author)
