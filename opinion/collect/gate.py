"""The privacy gate: the only way a source's `RawRecord` becomes a `Post` row.

Everything a collect writes passes here first, in one place: texts and every string of the raw
payload are normalised, capped and redacted (Presidio on the shared spaCy pipeline), authors
hashed with the salt, `posts.url` reduced to a non-identifying permalink, and `created_at`
checked against a sane range. See docs/hardening.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from opinion.records import Post, RawRecord

#: Longest text kept (characters); longer texts are cut at a word boundary and end with
#: `TRUNCATED_MARK` (the flag analysts filter on). Bounds every later stage's cost.
MAX_TEXT_CHARS = 10_000
TRUNCATED_MARK = " [truncated]"
#: Sane range of `created_at`: rows outside are rejected one by one (a post "from 1970" or
#: "from 9999" is a parsing fault or a hostile value, and would stretch every daily series).
OLDEST_POST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
PRIVACY_BATCH = 512  # records redacted per Presidio/nlp.pipe batch


def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` itself, or its first `limit` characters (cut at the last space when there is
    one nearby) followed by `TRUNCATED_MARK`."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - 200)
    return (cut[:space] if space > 0 else cut) + TRUNCATED_MARK


def check_created_at(created_at: datetime, now: datetime) -> None:
    """ValueError unless OLDEST_POST <= created_at <= now + FUTURE_SLACK."""
    if created_at.tzinfo is None:
        raise ValueError(f"created_at must carry a time zone: {created_at!r}")
    if not OLDEST_POST <= created_at <= now + FUTURE_SLACK:
        raise ValueError(
            f"created_at {created_at.isoformat()} outside {OLDEST_POST.date()} .. now + 1 day"
        )


def privacy_redactor(keep_handles: Iterable[str], keep_words: Iterable[str] = ()):
    from opinion.clean.privacy import Redactor

    return Redactor(keep_handles, keep_words)


def taxonomy_words(settings) -> list[str]:
    """The taxonomy's terms (seeds, related terms, category names): the objects of opinions,
    never redacted as names. Empty when no taxonomy pack is installed."""
    try:
        from opinion.nlp.taxonomy import taxonomy_for

        tax = taxonomy_for(settings)
    except (OSError, ValueError, LookupError):
        return []
    terms = [t for c in tax.categories.values() for t in (c.name, *c.seeds, *c.related)]
    return [t.replace("_", " ") for t in terms]


def _snowflake(native_id: str) -> bool:
    """A platform's time-ordered digit id (tweets, toots: 17+ digits): kept as it is, since
    a card is 13-16 digits (rarely 19) and shorter ids still go through the redactor."""
    return native_id.isascii() and native_id.isdigit() and len(native_id) >= 17


def to_posts(
    recs: list[RawRecord], salt: str, redactor, collected_at: datetime
) -> list[dict | str]:
    """Apply privacy to a batch of source records: the only way a `RawRecord` becomes a `Post`.

    Text and every string of the raw payload are normalised (so zero-width or full-width
    obfuscation cannot hide an e-mail), capped, then redacted in one Presidio batch. Returns,
    per record, the post row or a one-line reject reason."""
    from opinion.clean.normalize import normalize_text
    from opinion.clean.payload import payload_strings, scrub_payload, strip_author
    from opinion.clean.privacy import hash_author

    texts = [cap_text(normalize_text(r.text)) for r in recs]
    titles = [cap_text(normalize_text(r.title or ""), 1_000) for r in recs]
    ids_brands = [normalize_text(v or "") for r in recs for v in (r.native_id, r.brand)]
    raw_strings = [s for r in recs for s in payload_strings(r.payload, [])]
    # payload keys and many values recur in every record: normalise each string once
    normal = {s: cap_text(normalize_text(s)) for s in dict.fromkeys(raw_strings)}
    raw_normal = [normal[s] for s in raw_strings]
    # a snowflake id is kept as it is (below): not worth a phone-number search
    to_redact = ["" if i % 2 == 0 and _snowflake(v) else v for i, v in enumerate(ids_brands)]
    redacted = redactor.redact_many(texts + titles + to_redact + raw_normal)
    n = len(texts)
    clean = dict(zip(raw_strings, redacted[4 * n :], strict=True))
    keep = redactor.keep
    out: list[dict | str] = []
    fields = zip(recs, redacted[:n], redacted[n : 2 * n], strict=True)
    for i, (rec, text, title) in enumerate(fields):
        native_id, brand = redacted[2 * n + 2 * i], redacted[2 * n + 2 * i + 1]
        try:
            check_created_at(rec.created_at, collected_at)
            payload = scrub_payload(rec.payload, rec.author, salt, keep, clean=clean)
            if _snowflake(ids_brands[2 * i]):
                native_id = ids_brands[2 * i]  # 1 in 10 tweet ids passes a card's Luhn check
            elif native_id != ids_brands[2 * i]:  # an id that carries personal data
                native_id = "h" + hashlib.sha256(rec.native_id.encode()).hexdigest()[:24]
            post = Post(
                source=rec.source,
                native_id=native_id,
                text=strip_author(text, rec.author, keep),
                created_at=rec.created_at,
                url=clean_post_url(rec.url, rec.author, keep, rec.native_id, native_id),
                author_hash=hash_author(rec.author, salt),
                brand=brand or None if rec.brand is not None else None,
                rating_value=rec.rating,
                rating_scale=rec.rating_scale,
                title=None if rec.title is None else title,
                recommended=rec.recommended,
                cabin=rec.cabin,
                traveller_type=rec.traveller_type,
                route=rec.route,
                verified=rec.verified,
                raw=json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True),
            )
        except (ValueError, TypeError, OverflowError) as exc:
            out.append(f"invalid post: {str(exc).splitlines()[0] if str(exc) else type(exc)}")
            continue
        row = post.to_row()
        row["collected_at"] = collected_at
        out.append(row)
    return out


def to_post(rec: RawRecord, salt: str, keep_handles: Iterable[str], collected_at: datetime):
    """One record through `to_posts` (ValueError with the reason when it is refused)."""
    (row,) = to_posts([rec], salt, privacy_redactor(keep_handles), collected_at)
    if isinstance(row, str):
        raise ValueError(row)
    return row


def clean_post_url(
    url: str | None,
    author: str | None,
    keep: Iterable[str] = (),
    native_id: str | None = None,
    new_id: str | None = None,
) -> str | None:
    """`posts.url` without query, fragment or credentials, and without any path segment that
    names a person, for every source (`opinion.clean.urls`: twitter `/NAME/status/ID` →
    `/i/status/ID`, facebook/linkedin/instagram profiles, reddit `/user/NAME`, `/@NAME`, an
    e-mail or a long token in the path → `_`). An id replaced by its hash is replaced there
    too."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    from opinion.clean.normalize import normalize_text
    from opinion.clean.urls import clean_url

    text = normalize_text(str(url))
    if native_id and new_id and native_id != new_id:
        text = text.replace(native_id, new_id)
    try:
        parts = urlsplit(clean_url(text, {k.lower() for k in keep}, author))
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
