"""Privacy: pseudonymous authors and PII-free text, applied before anything is stored.

Why: we analyse opinions about brands, not people. Author names become salted hashes (stable
within one deployment so per-author dedupe and spam checks still work, useless elsewhere), and
e-mail addresses, phone numbers, private @handles and URL query strings (which often carry
tracking ids, tokens or e-mails) are removed from text. Brand handles are kept on purpose:
they are what brand linking keys on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["hash_author", "redact", "scrub_record"]

_URL = r"(?:https?://|www\.)[^\s<>\"'`]+"
_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# North American numbers: optional +1/1 prefix, area code with or without parentheses, and a
# separator between every group (bare digit runs are too often booking refs, ids or prices).
_PHONE_NANP = r"(?:\+?1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-]|\.\d)"
# International numbers must start with '+' and a country code; digit count checked in code.
_PHONE_INTL = r"\+\d{1,3}(?:[ .\-]?\(?\d{1,4}\)?){2,5}(?![\w\-]|\.\d)"
_HANDLE = r"@(?P<handle>\w{1,50})"

_PII_RE = re.compile(
    rf"(?P<url>{_URL})"
    rf"|(?<![\w.%+\-])(?P<email>{_EMAIL})"
    rf"|(?<![\w$€£+.\-])(?P<phone>{_PHONE_INTL}|{_PHONE_NANP})"
    rf"|(?<![\w@])(?P<at>{_HANDLE})"
)
_URL_TRAILING = ".,;:!?)]}'\"…"
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15


def hash_author(name: str | None, salt: str) -> str | None:
    """Salted author pseudonym: HMAC-SHA256(salt, lower(name without '@')), 16 hex chars.

    Case and a leading '@' are ignored so `@Bob` and `bob` from two sources agree. Empty or
    missing names give None (no author), not the hash of "".
    """
    if name is None:
        return None
    key = str(name).strip().lstrip("@").strip().lower()
    if not key:
        return None
    digest = hmac.new(salt.encode("utf-8"), key.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:16]


def _strip_url_query(url: str) -> str:
    """scheme://host/path: drop query, fragment and any user:password@ part."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return url
    base = url[:cut]
    scheme, sep, rest = base.partition("://")
    if sep:
        host, slash, path = rest.partition("/")
        base = f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"
    return base


def redact(text: str, keep_handles: Iterable[str] = ()) -> str:
    """Replace e-mails with `[email]`, phone numbers with `[phone]`, @handles not in
    `keep_handles` (compared case-insensitively, '@' optional) with `@user`, and reduce URLs
    that carry a query or fragment to scheme://host/path. Everything else is left untouched.
    """
    if not text:
        return text
    keep = {h.strip().lstrip("@").lower() for h in keep_handles}

    def replace(m: re.Match[str]) -> str:
        if m.group("url"):
            url = m.group("url")
            stripped = url.rstrip(_URL_TRAILING)
            return _strip_url_query(stripped) + url[len(stripped) :]
        if m.group("email"):
            return "[email]"
        if m.group("phone"):
            phone = m.group("phone")
            digits = sum(c.isdigit() for c in phone)
            if _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
                return "[phone]"
            return phone
        handle = m.group("handle")
        return m.group(0) if handle.lower() in keep else "@user"

    return _PII_RE.sub(replace, text)


def _scrub(value: Any, authors: frozenset[str], salt: str, keep: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, keep)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if key in authors and not isinstance(item, (Mapping, list, tuple)):
                out[key] = hash_author(None if item is None else str(item), salt)
            else:
                out[key] = _scrub(item, authors, salt, keep)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(item, authors, salt, keep) for item in value)
    return value


def scrub_record(
    record: Mapping[str, Any],
    author_fields: Iterable[str],
    salt: str,
    keep_handles: Iterable[str] = (),
) -> dict[str, Any]:
    """A PII-free copy of a raw source record, for keeping the payload for audit.

    Keys named in `author_fields` (at any depth) holding a scalar are hashed with
    `hash_author`; every other string value, nested ones included, goes through `redact`.
    Non-string scalars (numbers, booleans, None) are kept. The input is not modified.
    """
    return _scrub(record, frozenset(author_fields), salt, tuple(keep_handles))


GEO_KEY = re.compile(r"coord|geo|latitude|longitude", re.IGNORECASE)


def strip_author(text: str, author: str | None, keep_handles: Iterable[str] = ()) -> str:
    """Replace the author's own name where it recurs (their signature, hashtag, profile
    location) with `[author]`. Brand accounts posting as themselves keep their name."""
    if not author or not text:
        return text
    name = author.strip().lstrip("@")
    if len(name) < 4 or name.lower() in {h.lower().lstrip("@") for h in keep_handles}:
        return text
    return re.sub(re.escape(name), "[author]", text, flags=re.IGNORECASE)


def scrub_payload(
    payload: dict, author: str | None, salt: str, keep_handles: Iterable[str] = ()
) -> dict:
    """The raw record kept for audit, without personal data: author fields hashed, contact
    details redacted (`scrub_record`), precise geolocation dropped, the author's name removed
    wherever else it appears."""
    keep = tuple(keep_handles)
    author_fields = [k for k, v in payload.items() if author and v == author]
    scrubbed = scrub_record(
        {k: v for k, v in payload.items() if not GEO_KEY.search(str(k))}, author_fields, salt, keep
    )

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return strip_author(value, author, keep)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(scrubbed)
