"""Reading ABSA JSON Lines (the project's train/eval format) with a clear error per bad line.

Format: `{"text": "...", "aspects": [{"term", "from", "to", "polarity"}]}`; offsets are
character offsets into `text`. Bad lines are reported, never silently skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ALL_POLARITIES = ("positive", "negative", "neutral", "conflict")


@dataclass(frozen=True, slots=True)
class GoldAspect:
    term: str
    start: int
    end: int
    polarity: str


@dataclass(frozen=True, slots=True)
class AbsaExample:
    text: str
    aspects: tuple[GoldAspect, ...] = field(default_factory=tuple)


class AbsaFormatError(ValueError):
    """A line of an ABSA file that does not follow the format (terminal: fix the file)."""


def parse_line(line: str, where: str = "") -> AbsaExample:
    """Parse one JSON line; raise `AbsaFormatError` with a one-line reason."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AbsaFormatError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise AbsaFormatError(f"{where}: expected an object with a string 'text'")
    text = obj["text"]
    aspects = []
    for a in obj.get("aspects") or []:
        try:
            start, end, pol = int(a["from"]), int(a["to"]), str(a["polarity"]).lower()
        except (KeyError, TypeError, ValueError):
            raise AbsaFormatError(f"{where}: aspect needs from/to/polarity: {a!r}") from None
        if not 0 <= start < end <= len(text):
            raise AbsaFormatError(f"{where}: offsets {start}:{end} outside text")
        if pol not in ALL_POLARITIES:
            raise AbsaFormatError(f"{where}: unknown polarity {pol!r}")
        aspects.append(GoldAspect(text[start:end], start, end, pol))
    return AbsaExample(text, tuple(aspects))


def read_jsonl(path: str | Path) -> list[AbsaExample]:
    """All examples of a file; the first bad line stops with its line number."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    out = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                out.append(parse_line(line, f"{path.name}:{n}"))
    return out


def split_dev(examples: Iterable[AbsaExample], dev_share: float = 0.1) -> tuple[list, list]:
    """Deterministic train/dev split by a hash of the text with spaces removed, so the same
    sentence in two tokenisations always falls on the same side."""
    train, dev = [], []
    for ex in examples:
        key = "".join(ex.text.lower().split()).encode()
        bucket = int(hashlib.md5(key).hexdigest()[:8], 16) / 0xFFFFFFFF
        (dev if bucket < dev_share else train).append(ex)
    return train, dev


def iter_targets(examples: Iterable[AbsaExample], skip_conflict: bool = True) -> Iterator:
    """(text, aspect) pairs for aspect-sentiment training/eval."""
    for ex in examples:
        for a in ex.aspects:
            if skip_conflict and a.polarity == "conflict":
                continue
            yield ex.text, a
