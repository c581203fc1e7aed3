"""Cleaning: turn a raw collected post into text the pipeline can trust, before storage.

Each step is a small pure function so sources, the Airflow DAG and tests call the same code.
`normalize_text` first gives every post one canonical form (UTF-8 decoded without raising,
HTML entities undone, Unicode NFKC, invisible and bidi control characters removed, whitespace
collapsed), so all later steps see the same string. `privacy` then pseudonymises authors
(`hash_author`, salted) and strips PII from text and raw payloads (`redact`, `scrub_record`:
e-mails, phone numbers, non-brand @handles, URL query strings) because we study opinions
about brands, not people. `detect_language` tags each post so the per-language models get
only what they understand, answering 'und' rather than guessing on short text.
`find_duplicates` (with `text_fingerprint` and `minhash_bands`) points retweets, copy-paste
campaigns and near-identical reposts at their earliest original so one opinion counts once.
`spam_signals` scores promotion and follower-bait with named reasons, to filter rather than
delete. `BrandList.link` decides which brand a post is about from curated handles and aliases
(`data/brands/*.yaml`), and `BrandList.handles` is the keep-list for `redact`.
"""

from opinion.clean.brands import Brand, BrandList
from opinion.clean.dedupe import find_duplicates, minhash_bands, text_fingerprint
from opinion.clean.language import detect_language
from opinion.clean.normalize import normalize_text
from opinion.clean.payload import scrub_record
from opinion.clean.privacy import hash_author, redact
from opinion.clean.spam import spam_signals

__all__ = [
    "Brand",
    "BrandList",
    "detect_language",
    "find_duplicates",
    "hash_author",
    "minhash_bands",
    "normalize_text",
    "redact",
    "scrub_record",
    "spam_signals",
    "text_fingerprint",
]
