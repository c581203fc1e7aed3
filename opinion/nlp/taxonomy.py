"""Taxonomy mapping: aspect terms → category, journey touchpoint and CX domain.

A taxonomy pack is data (`data/taxonomies/{pack}.yaml`, each with a `version`): categories
with a description, seed terms (spotted in text and matched exactly) and related terms
(matched exactly, never spotted), each mapped to a touchpoint and a CX domain (experience,
service, success); an `overrides` map (term => category), `renames` (old category => new,
also used to merge), `min_share`, `similarity_threshold` and `rollups`. The brand list's
`domain:` picks the pack (`airlines.yaml` has `domain: airline`), else `generic`.

`mapper_for(settings)` fills category/touchpoint/cx_domain/taxonomy_version on mention dicts:

1. `overrides` (on the normalised term), then
2. exact match on a seed or related term, compared on lemmas (spaCy: "delays", "delayed" and
   "delay" are one key; `opinion.nlp.linguistic`), then
3. a seed term spotted inside a longer term ("delayed flight" → delays), then
4. embedding similarity (the packaged MiniLM, mean pooling, L2-normalised) of the term to
   each category's description and terms; the best category if its cosine reaches
   `similarity_threshold`, else "other". A mention is never dropped.

`term_spotter_for(settings)` returns the pack's spaCy layer, called as `spots(text)`: the seed
terms matched on lemmas in a text, which the ABSA engine unions with its tagger's spans (the
tagger was trained on restaurant/laptop reviews and misses "delayed", "lost my bag", "on hold").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opinion.clean.brands import YAML_LOADER
from opinion.config import REPO_ROOT

OTHER = "other"
DEFAULT_PACK = "generic"
CX_DOMAINS = ("experience", "service", "success")
DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_SHARE = 0.01

__all__ = [
    "OTHER",
    "Category",
    "Taxonomy",
    "TaxonomyMapper",
    "load_taxonomy",
    "mapper_for",
    "taxonomy_for",
    "term_spotter_for",
]


def _norm(term: str) -> str:
    """The lemma key a term is compared under (`linguistic.aspect_key`)."""
    from opinion.nlp.linguistic import aspect_key

    return aspect_key(term)


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    touchpoint: str
    cx_domain: str
    seeds: tuple[str, ...] = ()
    related: tuple[str, ...] = ()


@dataclass
class Taxonomy:
    """One loaded taxonomy pack."""

    version: str
    pack: str
    categories: dict[str, Category]
    touchpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    rollups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    similarity_threshold: float = DEFAULT_THRESHOLD
    min_share: float = DEFAULT_MIN_SHARE
    friction: tuple[str, ...] = ()
    path: Path | None = None
    base_version: str = ""  # the YAML's `version`; `version` adds the fitted head's digest

    def __post_init__(self) -> None:
        self.other = Category(OTHER, "anything the taxonomy does not name", OTHER, "experience")
        self._exact: dict[str, str] = {}
        for cat in self.categories.values():
            for term in (*cat.seeds, *cat.related):
                self._exact.setdefault(_norm(term), cat.name)
        self._overrides = {_norm(k): self.resolve(v) for k, v in self.overrides.items()}
        self._overrides.update({k.lower(): self.resolve(v) for k, v in self.overrides.items()})
        self._spot_owner: dict[str, str] = {}
        for cat in self.categories.values():
            for seed in cat.seeds:
                self._spot_owner.setdefault(_norm(seed), cat.name)
        self._layer = None

    @property
    def linguistic(self):
        """The spaCy layer matching this pack's seeds and friction terms (on lemmas)."""
        if self._layer is None:
            from opinion.nlp.linguistic import linguistic_for

            self._layer = linguistic_for(self)
        return self._layer

    # ------------------------------------------------------------ lookups

    def resolve(self, name: str) -> str:
        """A category name after `renames` (followed to the end, cycles refused)."""
        seen = set()
        while name in self.renames and name not in seen:
            seen.add(name)
            name = self.renames[name]
        return name

    def category(self, name: str) -> Category:
        """The category called `name` (after renames); `other` for anything unknown."""
        return self.categories.get(self.resolve(name), self.other)

    def lookup(self, term: str) -> str | None:
        """Category from overrides, exact seed/related terms, or a seed inside the term."""
        raw = " ".join(term.lower().split())
        key = _norm(term)
        for k in (raw, key):
            if k in self._overrides:
                return self._overrides[k]
        for k in (raw, key):
            if k in self._exact:
                return self._exact[k]
        spans = self.term_spans(term)
        if spans:
            s, e = max(spans, key=lambda se: (se[1] - se[0], -se[0]))
            return self._spot_owner.get(_norm(term[s:e]))
        return None

    def is_friction(self, term: str) -> bool:
        """Whether an aspect term names a failure event ("delayed", "on hold", "lost bag"):
        bad for the customer whatever words surround it (see `friction` in the pack)."""
        return bool(self.friction) and self.linguistic.is_friction(term)

    def term_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every seed term in `text`, matched on lemmas by spaCy's
        `PhraseMatcher`: whole tokens, longest match first, never overlapping, outside URLs
        and @handles."""
        return self.linguistic.seed_spans(text) if text else []

    def category_texts(self) -> dict[str, list[str]]:
        """What each category is embedded as: its description, seeds and related terms."""
        return {c.name: [c.description, *c.seeds, *c.related] for c in self.categories.values()}


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read and validate a taxonomy YAML file; raises a one-line ValueError."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    except yaml.YAMLError:
        raise ValueError(f"{path}: not valid YAML") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), dict):
        raise ValueError(f"{path}: expected a mapping with 'version' and 'categories'")
    if not doc.get("version"):
        raise ValueError(f"{path}: 'version' is required")
    touchpoints = doc.get("touchpoints") or {}
    cats: dict[str, Category] = {}
    for name, item in doc["categories"].items():
        where = f"{path}: category {name!r}"
        if name == OTHER:
            raise ValueError(f"{where}: 'other' is built in")
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be a mapping")
        tp, dom = item.get("touchpoint"), item.get("cx_domain")
        if not tp or (touchpoints and tp not in touchpoints):
            raise ValueError(f"{where}: touchpoint {tp!r} is not in 'touchpoints'")
        if dom not in CX_DOMAINS:
            raise ValueError(f"{where}: cx_domain must be one of {CX_DOMAINS}, got {dom!r}")
        cats[name] = Category(
            name,
            str(item.get("description") or name),
            tp,
            dom,
            _strs(item.get("seeds"), f"{where}: seeds"),
            _strs(item.get("related"), f"{where}: related"),
        )
    known = set(cats) | {OTHER}
    renames = {str(k): str(v) for k, v in (doc.get("renames") or {}).items()}
    overrides = {str(k): str(v) for k, v in (doc.get("overrides") or {}).items()}
    from opinion.nlp.categories import head_digest, head_path

    digest = head_digest(head_path(path))
    tax = Taxonomy(
        version=str(doc["version"]) + (f"+head.{digest}" if digest else ""),
        base_version=str(doc["version"]),
        pack=str(doc.get("pack") or path.stem),
        categories=cats,
        touchpoints={str(k): dict(v or {}) for k, v in touchpoints.items()},
        overrides=overrides,
        renames=renames,
        rollups={
            str(k): _strs(v, f"{path}: rollup {k}") for k, v in (doc.get("rollups") or {}).items()
        },
        similarity_threshold=float(doc.get("similarity_threshold", DEFAULT_THRESHOLD)),
        min_share=float(doc.get("min_share", DEFAULT_MIN_SHARE)),
        friction=_strs(doc.get("friction"), f"{path}: friction"),
        path=path,
    )
    for term, target in overrides.items():
        if tax.resolve(target) not in known:
            raise ValueError(f"{path}: override {term!r} => unknown category {target!r}")
    for rollup, members in tax.rollups.items():
        bad = [m for m in members if tax.resolve(m) not in known]
        if bad:
            raise ValueError(f"{path}: rollup {rollup!r} names unknown category {bad[0]!r}")
    return tax


# ------------------------------------------------------------ which pack applies


def taxonomy_dir(settings=None) -> Path:
    """`{data_dir}/taxonomies` when it exists, else the packs bundled in the repository."""
    if settings is not None:
        here = Path(settings.data_dir) / "taxonomies"
        if here.is_dir():
            return here
    return REPO_ROOT / "data" / "taxonomies"


def pack_path(settings=None, domain: str | None = None) -> Path:
    """The pack for `domain` (default: the brand list's `domain:`), else generic."""
    if domain is None and settings is not None:
        try:
            from opinion.clean.brands import BrandList

            domain = BrandList.load(settings.brands_file).domain
        except (OSError, ValueError):
            domain = None
    folder = taxonomy_dir(settings)
    if domain:
        path = folder / f"{domain}.yaml"
        if path.exists():
            return path
    return folder / f"{DEFAULT_PACK}.yaml"


@functools.cache
def _load_cached(path: str, stamp: tuple[int, int]) -> Taxonomy:
    return load_taxonomy(path)


def _stamp(path: Path) -> tuple[int, int]:
    """Modification times of a pack and of its fitted head (0 when none): the cache key."""
    from opinion.nlp.categories import head_path

    head = head_path(path)
    return path.stat().st_mtime_ns, head.stat().st_mtime_ns if head.exists() else 0


def taxonomy_for(settings=None, domain: str | None = None) -> Taxonomy:
    """The loaded pack that applies to `settings` (cached per file version, head included)."""
    path = pack_path(settings, domain)
    return _load_cached(str(path), _stamp(path))


# ------------------------------------------------------------ embeddings


@functools.cache
def _encoder():
    """(tokenizer, model) of the packaged MiniLM, loaded once per process."""
    import transformers
    from transformers import AutoModel, AutoTokenizer

    from opinion.nlp.backbone import embedded_encoder_dir

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    folder = embedded_encoder_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder))
    model.eval()
    return tokenizer, model


def embed(texts: list[str], batch_size: int = 128):
    """L2-normalised mean-pooled MiniLM embeddings, a float32 tensor (len(texts), 384)."""
    import torch

    tokenizer, model = _encoder()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[i : i + batch_size],
                padding=True,
                pad_to_multiple_of=16,  # few distinct shapes: oneDNN caches few kernels
                truncation=True,
                max_length=64,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(out) if out else torch.zeros((0, 384))


# ------------------------------------------------------------ the mapper


class TaxonomyMapper:
    """Callable filling category/touchpoint/cx_domain/taxonomy_version on mention dicts.

    Results are cached per unique term; category vectors are embedded once, lazily (only when
    a term is not found by the exact rules)."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self._cache: dict[str, tuple[str, float | None]] = {}
        self._matrix = None
        self._owners: list[str] = []

    def _category_matrix(self):
        if self._matrix is None:
            texts: list[str] = []
            for name, items in self.taxonomy.category_texts().items():
                texts += items
                self._owners += [name] * len(items)
            self._matrix = embed(texts)
        return self._matrix

    def nearest(self, terms: list[str]) -> list[tuple[str, float]]:
        """(best category, cosine) per term by embedding similarity (no threshold)."""
        if not terms:
            return []
        matrix = self._category_matrix()
        sims = embed(terms) @ matrix.T
        best = sims.max(dim=1)
        return [
            (self._owners[int(j)], float(s)) for s, j in zip(best.values, best.indices, strict=True)
        ]

    def classify(self, terms: Iterable[str]) -> dict[str, tuple[str, float | None]]:
        """term → (category, cosine or None when an exact rule decided)."""
        todo = []
        for term in terms:
            if term in self._cache:
                continue
            found = self.taxonomy.lookup(term)
            if found is not None:
                self._cache[term] = (self.taxonomy.resolve(found), None)
            else:
                todo.append(term)
        todo = list(dict.fromkeys(todo))
        if todo:
            keys = [_norm(t) or t for t in todo]
            for term, (cat, score) in zip(todo, self.nearest(keys), strict=True):
                ok = score >= self.taxonomy.similarity_threshold
                self._cache[term] = (self.taxonomy.resolve(cat) if ok else OTHER, score)
        return {t: self._cache[t] for t in terms}

    def __call__(self, mentions: list[dict]) -> None:
        terms = [
            "" if m.get("implicit") else str(m.get("term") or m.get("aspect") or "")
            for m in mentions
        ]
        found = self.classify([t for t in terms if t.strip()])
        for m, term in zip(mentions, terms, strict=True):
            if m.get("implicit"):  # an implicit mention arrives with its category
                cat = self.taxonomy.category(str(m.get("category") or OTHER))
            else:
                cat = self.taxonomy.category(found[term][0] if term.strip() else OTHER)
            m["category"] = cat.name
            m["touchpoint"] = cat.touchpoint
            m["cx_domain"] = cat.cx_domain
            m["taxonomy_version"] = self.taxonomy.version


@functools.cache
def _mapper_cached(path: str, stamp: tuple[int, int]) -> TaxonomyMapper:
    return TaxonomyMapper(_load_cached(path, stamp))


def mapper_for(settings=None, domain: str | None = None) -> Callable[[list[dict]], None]:
    """The mapper for the pack that applies to `settings` (one per process and file version)."""
    path = pack_path(settings, domain)
    return _mapper_cached(str(path), _stamp(path))


def implicit_for(settings=None, domain: str | None = None):
    """The engine's implicit-category hook (`categories.CategoryHead.annotate`) of the pack
    that applies, or None when the pack has no fitted head."""
    from opinion.nlp.categories import load_head

    head = load_head(taxonomy_for(settings, domain))
    return head.annotate if head is not None else None


def friction_for(settings=None, domain: str | None = None) -> Callable[[str], bool]:
    """`is_friction(term)` of the pack that applies to `settings` (for `AbsaEngine`)."""
    return taxonomy_for(settings, domain).is_friction


def term_spotter_for(
    settings=None, domain: str | None = None
) -> Callable[[str], list[tuple[int, int]]]:
    """The spaCy layer of the pack that applies to `settings` (for `AbsaEngine`): called as
    `spots(text)` it gives the seed-term spans; `spots.prepare(texts)` tokenises a batch."""
    return taxonomy_for(settings, domain).linguistic
