"""Duplicate detection: retweets, copy-paste campaigns and near-identical reposts.

Why: one complaint retweeted 200 times is one opinion, not 200; bot campaigns paste the same
text with a word changed. Counting them would swamp the sentiment trends, so each duplicate
points at the earliest post of its group (`dup_of`) and the insights layer can count groups.

Two keys:

* `text_fingerprint`: exact key after removing what varies between copies (case, a leading
  `RT @x:`, @handles, URLs, punctuation, whitespace). sha1, 16 hex chars.
* `minhash_bands`: MinHash LSH band keys for near duplicates. Shingles are character
  5-grams for tweet-length texts (< `WORD_SHINGLE_MIN_WORDS` words; one changed word still
  leaves most 5-grams intact) and word 3-grams for long texts (reviews). With 64 permutations
  in 16 bands of 4 rows, two texts share at least one band with probability
  1 - (1 - J^4)^16: 0.9998 at Jaccard J = 0.8, 0.96 at 0.6, 0.12 at 0.3, 0.0016 at 0.1. The
  S-curve midpoint is ~0.5, deliberately below `JACCARD_THRESHOLD` = 0.8: bands only
  propose candidates, and `find_duplicates` verifies the exact Jaccard of every candidate
  pair, so low-similarity collisions cost a comparison, not a false duplicate.

Texts with fewer than `MIN_WORDS_FOR_MINHASH` words after stripping get no band keys and
only match exactly: "@united thanks" vs "@united thanks!!" is a duplicate pair by fingerprint,
but MinHash over three words would join unrelated short replies. For those short texts,
`find_duplicates` also requires the same set of @handles, so "@united thanks" and
"@delta thanks" (two customers, two brands) stay separate posts.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np

__all__ = [
    "JACCARD_THRESHOLD",
    "DupProbe",
    "dup_probe",
    "exact_copy",
    "find_duplicates",
    "minhash_bands",
    "shingles",
    "text_fingerprint",
    "verified_duplicate",
]

JACCARD_THRESHOLD = 0.8
MIN_WORDS_FOR_MINHASH = 4
WORD_SHINGLE_MIN_WORDS = 50
CHAR_SHINGLE, WORD_SHINGLE = 5, 3
_NUM_PERM, _BANDS = 64, 16  # what find_duplicates uses
# Bound the work per post when many texts share buckets (a campaign of near-copies): at most
# this many earlier posts are compared per post, and a bucket stops growing at this size.
_MAX_COMPARE = 64
# Pairs whose MinHash signatures agree on fewer permutations than this have an estimated
# Jaccard < 0.55 (a true 0.8 pair falls this low with probability ~1e-6): skip verifying.
_MIN_EQUAL_PERMS = 35

_RT_RE = re.compile(r"^\s*rt\s*@\w+\s*:?\s*", re.IGNORECASE)
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE_RE = re.compile(r"(?<!\w)@(\w+)")
_NON_WORD_RE = re.compile(r"[\W_]+")

_MERSENNE = np.uint64((1 << 61) - 1)
_MASK32 = np.uint64(0xFFFFFFFF)
_SEED = 20150224


def _strip(text: str) -> tuple[str, frozenset[str]]:
    """Lowercased text without retweet prefix, URLs and handles; plus the handles it had."""
    text = text.lower()
    while True:  # "RT @a: RT @b: ..." chains
        m = _RT_RE.match(text)
        if not m:
            break
        text = text[m.end() :]
    text = _URL_RE.sub(" ", text)
    handles = frozenset(_HANDLE_RE.findall(text))
    return _HANDLE_RE.sub(" ", text), handles


def _words(stripped: str) -> list[str]:
    return _NON_WORD_RE.sub(" ", stripped).split()


def text_fingerprint(text: str) -> str:
    """Exact-duplicate key (sha1, 16 hex): equal for texts that differ only in case, a leading
    `RT @x:`, @handles, URLs, punctuation or whitespace.

    Texts with no words left (emoji-only, punctuation-only) fall back to their non-space
    characters, so two different emoji replies do not collapse into one key.
    """
    text = text or ""
    stripped, _ = _strip(text)
    return _fingerprint(text, stripped, _words(stripped))


def _fingerprint(text: str, stripped: str, words: list[str]) -> str:
    canonical = " ".join(words)
    if not canonical:
        canonical = "\x00" + "".join(stripped.split()) or "\x01" + " ".join(text.lower().split())
    return hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _mix(h: np.ndarray) -> np.ndarray:
    """64-bit finaliser (splitmix64-style) so rolling hashes spread over the low 32 bits."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    return h & _MASK32


def _rolling(values: np.ndarray, k: int) -> np.ndarray:
    """Hash of every window of k consecutive values (uint64 arithmetic wraps on purpose)."""
    n = len(values) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        h = h * np.uint64(1_000_003) + values[j : j + n]
    return _mix(h)


def shingles(text: str) -> np.ndarray:
    """Sorted unique 32-bit shingle hashes of `text` (empty for texts too short for MinHash)."""
    stripped, _ = _strip(text or "")
    return _shingles(_words(stripped))


def _shingles(words: list[str]) -> np.ndarray:
    if len(words) < MIN_WORDS_FOR_MINHASH:
        return np.empty(0, dtype=np.uint64)
    if len(words) < WORD_SHINGLE_MIN_WORDS:
        joined = " ".join(words).encode("utf-32-le", "surrogatepass")
        values = np.frombuffer(joined, dtype=np.uint32).astype(np.uint64)
        k = CHAR_SHINGLE
    else:
        ids = [zlib.crc32(w.encode("utf-8", "surrogatepass")) for w in words]
        values = np.asarray(ids, dtype=np.uint64)
        k = WORD_SHINGLE
    if len(values) < k:
        return np.unique(_rolling(values, len(values)))
    return np.unique(_rolling(values, k))


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed (a, b) for h -> (a*h + b) mod (2^61 - 1): band keys are stable across runs."""
    rng = np.random.RandomState(_SEED)
    a = rng.randint(1, 1 << 32, size=num_perm, dtype=np.uint64)
    b = rng.randint(0, 1 << 32, size=num_perm, dtype=np.uint64)
    return a, b


def _signature(hashes: np.ndarray, num_perm: int) -> np.ndarray:
    a, b = _permutations(num_perm)
    sig = np.full(num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(hashes), 8192):  # bounded memory for very long texts
        chunk = hashes[start : start + 8192, None]
        # a, h < 2^32, so a*h + b < 2^64: no overflow before the modulus.
        values = ((chunk * a + b) % _MERSENNE) & _MASK32
        np.minimum(sig, values.min(axis=0), out=sig)
    return sig


def _bands(hashes: np.ndarray, num_perm: int, bands: int) -> list[str]:
    if num_perm < 1 or bands < 1 or num_perm % bands:
        raise ValueError(f"num_perm ({num_perm}) must be a positive multiple of bands ({bands})")
    if len(hashes) == 0:
        return []
    return _band_keys(_signature(hashes, num_perm), bands)


def _band_keys(sig: np.ndarray, bands: int) -> list[str]:
    hexsig = sig.astype("<u4").tobytes().hex()
    width = len(hexsig) // bands
    return [f"{i:02d}:{hexsig[i * width : (i + 1) * width]}" for i in range(bands)]


def minhash_bands(text: str, num_perm: int = 64, bands: int = 16) -> list[str]:
    """LSH band keys ("band:hash") of `text`; texts sharing any key are near-duplicate
    candidates. Empty for texts under `MIN_WORDS_FOR_MINHASH` words (exact match only)."""
    return _bands(shingles(text), num_perm, bands)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique shingle-hash arrays."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def find_duplicates(items: Sequence[tuple[str, datetime, str]]) -> dict[str, str]:
    """Map post_id -> dup_of for every post that duplicates an earlier one in `items`.

    `items` are (post_id, created_at, text). Posts group when their fingerprints are equal
    (short texts: and their @handle sets are equal) or they share a band key and their shingle
    Jaccard is >= `JACCARD_THRESHOLD`; groups are transitive. `dup_of` is the group member
    with the smallest (created_at, post_id); that original is not itself a key of the result.
    """
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    first_by_key: dict[tuple[str, frozenset[str]], int] = {}
    candidates: dict[int, list[str]] = {}
    for i, (_, _, text) in enumerate(items):
        text = text or ""
        stripped, handles = _strip(text)
        words = _words(stripped)
        short = len(words) < MIN_WORDS_FOR_MINHASH
        key = (_fingerprint(text, stripped, words), handles if short else frozenset())
        if key in first_by_key:
            union(i, first_by_key[key])
        else:
            first_by_key[key] = i
            if not short:
                candidates[i] = words

    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, words in candidates.items():
        hashes = _shingles(words)
        sig = _signature(hashes, _NUM_PERM)
        cache[i] = (hashes, sig)
        compared: set[int] = set()
        for band in _band_keys(sig, _BANDS):
            bucket = buckets[band]
            for j in bucket:
                if len(compared) >= _MAX_COMPARE:
                    break
                if j in compared or find(j) == find(i):
                    continue
                compared.add(j)
                other_hashes, other_sig = cache[j]
                # Cheap MinHash estimate first; exact Jaccard only for plausible pairs.
                if np.count_nonzero(sig == other_sig) < _MIN_EQUAL_PERMS:
                    continue
                if jaccard(hashes, other_hashes) >= JACCARD_THRESHOLD:
                    union(i, j)
            if len(bucket) < _MAX_COMPARE:
                bucket.append(i)

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(items)):
        groups[find(i)].append(i)
    result: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        original = min(members, key=lambda m: (items[m][1], items[m][0]))
        for m in members:
            if items[m][0] != items[original][0]:
                result[items[m][0]] = items[original][0]
    return result


@dataclass
class DupProbe:
    """What the pair rule needs of one stored post: its exact key, @handles, words and the
    MinHash signature its band keys spell (so a candidate pair is first checked without
    hashing the text again); the shingles are computed only when a pair needs them."""

    text_hash: str | None
    handles: frozenset[str]
    words: list[str]
    sig: np.ndarray | None
    _shingles: np.ndarray | None = field(default=None, repr=False)

    @property
    def short(self) -> bool:
        return len(self.words) < MIN_WORDS_FOR_MINHASH

    def shingles(self) -> np.ndarray:
        if self._shingles is None:
            self._shingles = _shingles(self.words)
        return self._shingles


def signature_of_bands(bands: Sequence[str] | None) -> np.ndarray | None:
    """The 64-permutation signature that `_band_keys` wrote into `bands`; None when the keys
    are not `_BANDS` well-formed "NN:hex" keys (then the pair rule hashes the text instead)."""
    if not bands or len(bands) != _BANDS:
        return None
    width = 8 * _NUM_PERM // _BANDS  # hex digits per band: rows of 4 bytes
    try:
        ordered = sorted(bands, key=lambda k: int(k[:2]))
        raw = bytes.fromhex("".join(k[3 : 3 + width] for k in ordered))
    except ValueError:
        return None
    if len(raw) != 4 * _NUM_PERM:
        return None
    return np.frombuffer(raw, dtype="<u4").astype(np.uint64)


def dup_probe(text: str | None, text_hash: str | None = None, bands=None) -> DupProbe:
    """A `DupProbe` of a stored post; `text_hash` defaults to `text_fingerprint(text)`."""
    text = text or ""
    stripped, handles = _strip(text)
    words = _words(stripped)
    if text_hash is None:
        text_hash = _fingerprint(text, stripped, words)
    return DupProbe(text_hash, handles, words, signature_of_bands(bands))


def exact_copy(a: DupProbe, b: DupProbe) -> bool:
    """Same words (equal fingerprints) sent to the same @handles: a retweet or a paste."""
    return a.text_hash is not None and a.text_hash == b.text_hash and a.handles == b.handles


def verified_duplicate(a: DupProbe, b: DupProbe) -> bool:
    """The rule of `find_duplicates` for one candidate pair: equal fingerprints (short texts:
    and equal @handle sets), or shingle Jaccard >= `JACCARD_THRESHOLD`. Sharing a band key
    only makes a pair a candidate (probability 0.12 at Jaccard 0.3)."""
    if a.text_hash is not None and a.text_hash == b.text_hash:
        return a.handles == b.handles if (a.short or b.short) else True
    if a.short or b.short:
        return False
    if (
        a.sig is not None
        and b.sig is not None
        and np.count_nonzero(a.sig == b.sig) < _MIN_EQUAL_PERMS
    ):
        return False
    return jaccard(a.shingles(), b.shingles()) >= JACCARD_THRESHOLD
