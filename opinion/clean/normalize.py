"""Text normalisation: one canonical form for every post before anything else looks at it.

Why: sources hand us mojibake-prone bytes, double-escaped HTML (`&amp;amp;`), full-width and
ligature forms, and invisible characters (zero-width joiners, bidi overrides) that break
tokenisation, fingerprinting and can hide text from reviewers. Normalising once, first, means
dedupe, language id, brand linking and the models all see the same string.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["normalize_text"]

_MAX_UNESCAPE_ROUNDS = 5  # `&amp;amp;amp;...` deeper than this is not worth honouring

# Zero-width (U+200B-U+200F incl. LRM/RLM), bidi embeddings/overrides (U+202A-U+202E),
# word joiner (U+2060), bidi isolates (U+2066-U+2069), BOM / zero-width no-break space.
_INVISIBLE = "\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
# C0/C1 control characters other than tab, newline and carriage return (whitespace, below).
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_DROP_RE = re.compile(f"[{_INVISIBLE}{_CONTROL}]+")
# Any whitespace run containing a line break collapses to one newline; other runs to a space.
_BREAK_RUN_RE = re.compile(r"[^\S\n\r]*[\n\r\u2028\u2029][\s]*")
_SPACE_RUN_RE = re.compile(r"[^\S\n]+")


def _unescape(text: str) -> str:
    """Undo HTML escaping until stable: scraped text is often escaped twice or more."""
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        if "&" not in text:
            break
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    return text


def normalize_text(text: str | bytes) -> str:
    """Return the canonical form of `text`; never raises on odd input.

    Bytes are decoded as UTF-8 with invalid sequences replaced by U+FFFD. Then: HTML entities
    unescaped (repeatedly), Unicode NFKC, invisible/bidi/control characters removed, line
    breaks kept as single newlines, other whitespace runs collapsed to one space, stripped.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text:
        return ""
    text = _unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = _DROP_RE.sub("", text)
    text = _BREAK_RUN_RE.sub("\n", text)
    text = _SPACE_RUN_RE.sub(" ", text)
    return text.strip()
