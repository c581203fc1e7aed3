"""One raw partition through cleaning and the engine into a mentions partition.

Cleaning (language, spam signals, duplicate fingerprints, brand linking), one engine call per
chunk of posts, then mention mapping: every aspect to its category → touchpoint → CX domain by
the taxonomy pack that applies, plus implicit mentions from the pack's category head.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pyarrow as pa

from opinion import lake
from opinion.config import Settings
from opinion.extract.reading import (
    brand_and_target,
    is_review,
    place_mention,
    reading_text,
    review_brand_and_target,
)

log = logging.getLogger(__name__)

ANALYZE_CHUNK = 512  # posts per engine call: bounded memory, frequent progress updates


def extract_partition(
    partition, engine, brands, settings: Settings, progress=None
) -> tuple[int, int, int, int]:
    """Clean + analyse one raw partition and write its mentions partition."""

    from opinion.clean.dedupe import minhash_bands, text_fingerprint
    from opinion.clean.language import detect_language
    from opinion.clean.spam import spam_signals

    fingerprint = partition.fingerprint("posts")
    posts = partition.read("posts").to_pylist()
    now = datetime.now(UTC)
    english_idx = []
    targets: dict[int, tuple[int, int] | None] = {}
    for i, row in enumerate(posts):
        text = row["text"] or ""
        row["language"] = detect_language(text)
        row["is_english"] = row["language"] in ("en", "und")
        pick = review_brand_and_target if is_review(row) else brand_and_target
        row["brand"], targets[i] = pick(text, row["brand"], brands)
        score, reasons = spam_signals(text)
        row["spam_score"], row["spam_reasons"] = score, ",".join(reasons)
        row["text_hash"] = text_fingerprint(text)
        row["minhash_bands"] = minhash_bands(text)
        row["sentiment"] = row["sentiment_confidence"] = None
        row["model_version"] = engine.version
        row["extracted_at"] = now
        row["primary_touchpoint"] = row["primary_category"] = row["primary_confidence"] = None
        if row["is_english"]:
            english_idx.append(i)
    readings = [reading_text(posts[i]) for i in english_idx]
    texts = [t for t, _ in readings]
    spans = [
        None if targets[i] is None else (targets[i][0] + off, targets[i][1] + off)
        for i, (_, off) in zip(english_idx, readings, strict=True)
    ]
    results = []
    for c in range(0, len(texts), ANALYZE_CHUNK):
        results += engine.analyze(texts[c : c + ANALYZE_CHUNK], spans[c : c + ANALYZE_CHUNK])
        if progress is not None:
            progress(len(texts[c : c + ANALYZE_CHUNK]))
    mentions, errors = [], 0
    from opinion.records import Mention

    for i, (_, offset), res in zip(english_idx, readings, results, strict=True):
        row = posts[i]
        if res.error:
            errors += 1
            continue
        row["sentiment"], row["sentiment_confidence"] = res.sentiment, res.sentiment_confidence
        title_len = len((row.get("title") or "").strip())
        for a in res.aspects:
            placed = place_mention(a.start, a.end, offset, title_len)
            if placed is None:
                continue
            m = Mention(
                row["post_id"],
                a.term,
                placed[0],
                placed[1],
                a.aspect,
                a.polarity,
                a.confidence,
                engine.version,
                in_title=placed[2],
            )
            mentions.append(
                {
                    **_asdict(m),
                    "category": None,
                    "touchpoint": None,
                    "cx_domain": None,
                    "taxonomy_version": None,
                    "implicit": False,
                }
            )
    mapper = _taxonomy_mapper(settings)
    if mapper is not None:
        mapper(mentions)
        _settle(posts, mentions, settings)
        implicit = _implicit_mentions(posts, english_idx, results, mentions, engine.version)
        mapper(implicit)
        mentions += implicit
        _set_primaries(posts, english_idx, texts, results, mentions, settings)
    settings.lake.write_partition(
        "mentions",
        partition.source,
        partition.day,
        {
            "posts": pa.Table.from_pylist(posts, schema=lake.MENTION_POSTS_SCHEMA),
            "mentions": pa.Table.from_pylist(mentions, schema=lake.MENTIONS_SCHEMA),
        },
        {
            lake.META_MODEL_VERSION: engine.version,
            lake.META_INPUT_FINGERPRINT: fingerprint,
            lake.META_TAXONOMY_VERSION: taxonomy_version(settings) or "",
        },
    )
    return len(posts), len(english_idx), len(mentions), errors


def _implicit_mentions(posts, english_idx, results, mapped, version) -> list[dict]:
    """Implicit mentions (category head) for opinionated posts that name no category."""
    from opinion.nlp.categories import implicit_mentions

    pairs = [(posts[i]["post_id"], res) for i, res in zip(english_idx, results, strict=True)]
    return implicit_mentions(pairs, mapped, version)


def _settle(posts, mapped, settings: Settings) -> None:
    """A negative post's neutral mention of a friction-prone category reads negative
    (`rootcause.settle_friction`: "where is my bag?" in a complaint)."""
    from opinion.nlp.rootcause import settle_posts
    from opinion.nlp.taxonomy import taxonomy_for

    settle_posts(mapped, {p["post_id"]: p["sentiment"] for p in posts}, taxonomy_for(settings))


def _set_primaries(posts, english_idx, texts, results, mapped, settings: Settings) -> None:
    """Each opinionated post's root cause: primary touchpoint, category and confidence
    (`opinion.nlp.rootcause`; the mention-based answer when the pack has no fitted head)."""
    from opinion.nlp.rootcause import load_root_head, primaries
    from opinion.nlp.taxonomy import taxonomy_for

    taxonomy = taxonomy_for(settings)
    read = [
        (posts[i]["post_id"], text, res)
        for i, text, res in zip(english_idx, texts, results, strict=True)
    ]
    found = primaries(read, mapped, taxonomy, load_root_head(taxonomy))
    for i in english_idx:
        tp, cat, conf = found.get(posts[i]["post_id"], (None, None, None))
        posts[i]["primary_touchpoint"], posts[i]["primary_category"] = tp, cat
        posts[i]["primary_confidence"] = conf


def _asdict(m) -> dict:
    return {f: getattr(m, f) for f in m.__slots__}


def _taxonomy_mapper(settings: Settings):
    """The aspect → category/touchpoint mapper of the taxonomy pack that applies (brand list
    `domain:`, else generic); None when no pack file is found."""
    try:
        from opinion.nlp.taxonomy import mapper_for
    except ImportError:
        return None
    try:
        return mapper_for(settings)
    except FileNotFoundError:
        log.warning("no taxonomy pack found; mentions stay unmapped")
        return None


def taxonomy_version(settings: Settings) -> str | None:
    """Version of the taxonomy pack that applies (None when there is none): a new version
    makes extract redo every partition, like a new model version."""
    try:
        from opinion.nlp.taxonomy import taxonomy_for

        return taxonomy_for(settings).version
    except FileNotFoundError:
        return None
