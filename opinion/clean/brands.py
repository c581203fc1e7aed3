"""Brand linking: which brand a post is about, from a curated YAML list.

Why: every downstream number is per brand, and the brand must come from the text itself
(sources like search APIs return posts that merely mention a keyword). Handles are the most
precise signal, so they win over aliases; among several brands the first one named is usually
the addressee ("@united why can't you be more like @JetBlue").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: libyaml's parser where PyYAML was built with it (~10x the pure-Python one), same results
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["Brand", "BrandList"]

_HANDLE_OK = re.compile(r"^@?\w{1,50}$")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_ANY_HANDLE_RE = re.compile(r"(?<![\w@])@\w+")


@dataclass(frozen=True)
class Brand:
    """One brand: display `name`, social `handles` (no '@'), text `aliases`, `competitors`."""

    name: str
    handles: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    competitors: tuple[str, ...] = field(default=())


def _strings(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: '{what}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _alternation(phrases: Iterable[str]) -> str:
    """Regex alternation, longest first, with any whitespace inside a phrase matching \\s+."""
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return "|".join(r"\s+".join(re.escape(part) for part in p.split()) for p in ordered)


class BrandList:
    """The brands of one domain, with compiled matchers for `link`."""

    def __init__(
        self,
        brands: Iterable[Brand],
        domain: str | None = None,
        version: Any = None,
        organisations: Iterable[str] = (),
    ):
        self.brands: tuple[Brand, ...] = tuple(brands)
        #: handles and names of organisations that are not tracked brands (airports, other
        #: airlines, agencies, media): never redacted as personal data
        self.organisations: tuple[str, ...] = tuple(organisations)
        self.domain = domain
        self.version = version
        self._by_name = {b.name: b for b in self.brands}
        if len(self._by_name) != len(self.brands):
            raise ValueError("brand names must be unique")
        self._handle_owner: dict[str, str] = {}
        self._alias_owner: dict[str, str] = {}
        for b in self.brands:
            for h in b.handles:
                key = h.lstrip("@").lower()
                if self._handle_owner.setdefault(key, b.name) != b.name:
                    raise ValueError(f"handle '@{key}' is listed for two brands")
            for a in b.aliases:
                key = " ".join(a.lower().split())
                if self._alias_owner.setdefault(key, b.name) != b.name:
                    raise ValueError(f"alias '{a}' is listed for two brands")
        self._handle_re = (
            re.compile(rf"(?<![\w@])@({_alternation(self._handle_owner)})(?!\w)", re.IGNORECASE)
            if self._handle_owner
            else None
        )
        self._alias_re = (
            re.compile(rf"(?<!\w)({_alternation(self._alias_owner)})(?!\w)", re.IGNORECASE)
            if self._alias_owner
            else None
        )

    @classmethod
    def load(cls, path: str | Path) -> BrandList:
        """Read a brand YAML file; raises a one-line ValueError naming what is wrong.

        Read once per process and file version: every stage and partition asks for it."""
        path = Path(path)
        try:
            stat = path.stat()
        except OSError:
            return cls._parse(path)  # raises the reader's own error
        return _load_cached(cls, str(path), stat.st_mtime_ns, stat.st_size)

    @classmethod
    def _parse(cls, path: Path) -> BrandList:
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise ValueError(f"{path}: not valid YAML{at}") from None
        if not isinstance(doc, dict):
            # A malformed file is a ValueError for the caller, whatever its YAML type.
            raise ValueError(f"{path}: expected a mapping with a 'brands' list at the top")
        raw = doc.get("brands")
        if not isinstance(raw, list) or not raw:
            raise ValueError(f"{path}: 'brands' must be a non-empty list")
        entries: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]] = []
        for i, item in enumerate(raw):
            where = f"{path}: brands[{i}]"
            if not isinstance(item, dict):
                raise ValueError(f"{where} must be a mapping with at least a 'name'")
            unknown = set(item) - {"name", "handles", "aliases", "competitors"}
            if unknown:
                raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
            name = item.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{where}: 'name' must be a non-empty string")
            where = f"{path}: brand '{name}'"
            handles = _strings(item.get("handles"), where, "handles")
            bad = [h for h in handles if not _HANDLE_OK.match(h)]
            if bad:
                raise ValueError(f"{where}: handle {bad[0]!r} is not a valid @handle")
            aliases = _strings(item.get("aliases"), where, "aliases")
            if not handles and not aliases:
                raise ValueError(f"{where}: needs at least one handle or alias")
            competitors = (
                _strings(item["competitors"], where, "competitors")
                if "competitors" in item
                else None
            )
            handles = tuple(h.lstrip("@") for h in handles)
            entries.append((name.strip(), handles, aliases, competitors))
        names = [e[0] for e in entries]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{path}: brand name {duplicates[0]!r} appears twice")
        brands = []
        for name, handles, aliases, competitors in entries:
            if competitors is None:
                competitors = tuple(n for n in names if n != name)
            missing = [c for c in competitors if c not in names]
            if missing:
                raise ValueError(f"{path}: brand '{name}' lists unknown competitor {missing[0]!r}")
            brands.append(Brand(name, handles, aliases, competitors))
        try:
            orgs = _strings(doc.get("organisations"), str(path), "organisations")
            return cls(brands, doc.get("domain"), doc.get("version"), orgs)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    @property
    def names(self) -> list[str]:
        """Brand names in file order."""
        return [b.name for b in self.brands]

    @property
    def handles(self) -> set[str]:
        """Every brand handle, lowercase without '@' (the keep-list for `redact`)."""
        return set(self._handle_owner)

    def get(self, name: str) -> Brand:
        """The brand called `name`; KeyError if unknown."""
        return self._by_name[name]

    def competitors(self, name: str) -> list[str]:
        """Names of `name`'s competitors; KeyError if the brand is unknown."""
        return list(self._by_name[name].competitors)

    def link(self, text: str) -> str | None:
        """The brand `text` is about: the first brand handle in the text, else the first alias
        (outside URLs and other @handles), else None."""
        found = self.find(text)
        return found[0] if found else None

    def find(self, text: str) -> tuple[str, int, int] | None:
        """(brand, start, end) of the mention `link` decides on: the span is the post-level
        sentiment target ("@united thanks for nothing" is about @united)."""
        if not text:
            return None
        if self._handle_re is not None:
            m = self._handle_re.search(text)
            if m:
                return self._handle_owner[m.group(1).lower()], m.start(), m.end()
        if self._alias_re is not None:
            # Blank out URLs and handles (same length keeps positions) so "t.co/delta" or
            # "@deltafan" cannot produce an alias hit.
            masked = _ANY_HANDLE_RE.sub(lambda m: " " * len(m.group(0)), text)
            masked = _URL_RE.sub(lambda m: " " * len(m.group(0)), masked)
            m = self._alias_re.search(masked)
            if m:
                owner = self._alias_owner[" ".join(m.group(1).lower().split())]
                return owner, m.start(1), m.end(1)
        return None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every brand name, alias and handle in `text`: the places a brand
        is named, which are never aspects of the experience ("air canada" is not aircraft)."""
        if not text:
            return []
        if not hasattr(self, "_named_re"):
            names = {" ".join(n.lower().split()) for n in self._by_name} | set(self._alias_owner)
            self._named_re = re.compile(rf"(?<![\w@])({_alternation(names)})(?!\w)", re.I)
        out = [(m.start(), m.end()) for m in self._named_re.finditer(text)]
        if self._handle_re is not None:
            out += [(m.start(), m.end()) for m in self._handle_re.finditer(text)]
        return sorted(out)

    def names_other(self, text: str, found: tuple[str, int, int]) -> bool:
        """Whether `text` names a known brand other than `found` (from `find`): such a post's
        sentiment is read about its own brand's mention, not the post as a whole."""
        brand, start, end = found
        other = self.find(text[:start] + " " * (end - start) + text[end:])
        return other is not None and other[0] != brand

    def __len__(self) -> int:
        return len(self.brands)

    def __iter__(self) -> Iterator[Brand]:
        return iter(self.brands)


@functools.lru_cache(maxsize=16)
def _load_cached(cls: type[BrandList], path: str, mtime_ns: int, size: int) -> BrandList:
    return cls._parse(Path(path))


def load_brands(settings) -> BrandList:
    """The brand list `settings` names (`Settings.brands_file`)."""
    return BrandList.load(settings.brands_file)
