"""The stages as plain functions: collect → extract → load (and `demo`, all three).

Called by the CLI, the tests and the Airflow DAGs alike. Each stage reads and writes the lake,
re-running any stage replaces its output (idempotent), and only `load` touches DuckDB.
Privacy is applied in one place, `to_post`, before anything is written: authors hashed,
e-mails/phones/handles redacted, the raw payload scrubbed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from opinion import lake
from opinion.config import Settings
from opinion.locks import source_lock
from opinion.records import Post, RawRecord, Reject

log = logging.getLogger(__name__)

#: Test hook: called between reading a raw partition and writing its merge (the window two
#: unlocked collects would race in). Lets tests widen it deterministically. Never set in
#: production.
_AFTER_RAW_READ = None


@dataclass
class CollectReport:
    source: str
    read: int = 0
    posts: int = 0
    rejected: int = 0
    duplicates: int = 0
    partitions_written: int = 0
    partitions_unchanged: int = 0
    retracted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class ExtractReport:
    model_version: str
    partitions: int = 0
    posts: int = 0
    english: int = 0
    mentions: int = 0
    errors: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # unreadable raw partitions, with why


class CollectQualityError(ValueError):
    """A batch that does not look like the source's data (too many rejected rows, or a full
    read far smaller than what the lake holds): nothing is written, the cursor stays, and
    retrying the same input cannot pass. Fix the input or the job, then collect again."""


#: Reject-ratio guard: a batch of at least this many records fails when more than
#: `OPINION_MAX_REJECT_RATIO` (default 0.1) of them are rejected.
REJECT_CHECK_MIN_ROWS = 20


def max_reject_ratio() -> float:
    return float(os.environ.get("OPINION_MAX_REJECT_RATIO", "0.1"))


def min_rows_ratio() -> float:
    """A full read (files) holding fewer posts than this share of what the lake holds for the
    source is suspicious: a warning, or a failure when the file is authoritative."""
    return float(os.environ.get("OPINION_MIN_ROWS_RATIO", "0.5"))


def _progress(iterable, total: int | None = None, desc: str = "", unit: str = "it"):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


def load_brands(settings: Settings):
    from opinion.clean.brands import BrandList

    return BrandList.load(settings.brands_file)


# ---------------------------------------------------------------- collect


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


def to_posts(
    recs: list[RawRecord], salt: str, redactor, collected_at: datetime
) -> list[dict | str]:
    """Apply privacy to a batch of source records: the only way a `RawRecord` becomes a `Post`.

    Text and every string of the raw payload are normalised (so zero-width or full-width
    obfuscation cannot hide an e-mail), capped, then redacted in one Presidio batch. Returns,
    per record, the post row or a one-line reject reason."""
    from opinion.clean.normalize import normalize_text
    from opinion.clean.privacy import hash_author, payload_strings, scrub_payload, strip_author

    texts = [cap_text(normalize_text(r.text)) for r in recs]
    titles = [cap_text(normalize_text(r.title or ""), 1_000) for r in recs]
    raw_strings = [s for r in recs for s in payload_strings(r.payload, [])]
    raw_normal = [cap_text(normalize_text(s)) for s in raw_strings]
    redacted = redactor.redact_many(texts + titles + raw_normal)
    n = len(texts)
    clean = dict(zip(raw_strings, redacted[2 * n :], strict=True))
    keep = redactor.keep
    out: list[dict | str] = []
    for rec, text, title in zip(recs, redacted[:n], redacted[n : 2 * n], strict=True):
        try:
            check_created_at(rec.created_at, collected_at)
            payload = scrub_payload(rec.payload, rec.author, salt, keep, clean=clean)
            post = Post(
                source=rec.source,
                native_id=rec.native_id,
                text=strip_author(text, rec.author, keep),
                created_at=rec.created_at,
                url=clean_post_url(rec.url, rec.author),
                author_hash=hash_author(rec.author, salt),
                brand=rec.brand,
                rating_value=rec.rating,
                rating_scale=rec.rating_scale,
                title=None if rec.title is None else title,
                recommended=rec.recommended,
                raw=json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True),
            )
        except (ValueError, TypeError, OverflowError) as exc:
            out.append(f"invalid post: {str(exc).splitlines()[0] if str(exc) else exc!r}")
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


def clean_post_url(url: str | None, author: str | None) -> str | None:
    """`posts.url` without query, fragment or credentials; when the path names the author
    (twitter.com/NAME/status/ID, reddit /user/NAME, mastodon /@NAME/ID, bsky /profile/NAME)
    the author's segment is replaced by `i` (twitter's own anonymous form) / `_`."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    from opinion.clean.privacy import clean_url

    try:
        parts = urlsplit(clean_url(str(url).strip()))
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    segments = parts.path.split("/")
    name = (author or "").strip().lstrip("@").lower()
    for i, seg in enumerate(segments):
        low = seg.lstrip("@").lower()
        prev = segments[i - 1].lower() if i else ""
        twitter_user = (
            host.endswith(("twitter.com", "x.com"))
            and i == 1
            and len(segments) > 2
            and segments[2] == "status"
        )
        if (
            twitter_user
            or (name and low == name)
            or seg.startswith("@")
            or prev in ("user", "u", "profile")
        ):
            segments[i] = "i" if seg and host.endswith(("twitter.com", "x.com")) else "_"
    return urlunsplit((parts.scheme, host, "/".join(segments), "", ""))


def _content_hash(rows: list[dict]) -> str:
    digest = hashlib.sha1()
    for row in sorted(rows, key=lambda r: r["post_id"]):
        digest.update(
            json.dumps(
                {k: v for k, v in row.items() if k != "collected_at"}, default=str, sort_keys=True
            ).encode()
        )
    return digest.hexdigest()


def collect_records(
    records: Iterable[RawRecord | Reject],
    settings: Settings,
    source: str,
    run_key: str,
    full_read: bool = False,
    authoritative: bool = False,
) -> CollectReport:
    """Write records into raw partitions (source × day, or × month for a sparse month: see
    `lake.period_keys`), merged by post_id with what the
    partition already holds; unchanged partitions are not rewritten. Rejects go to the lake
    under `run_key`, so the same input collected twice replaces its rejects file.

    `full_read`: the records are the source's whole content (a file), so their count is
    compared with the posts the lake holds for `source`. `authoritative`: posts of `source`
    that the records no longer hold are retracted (removed from their raw partitions; extract
    and load then drop them from the warehouse). Raises `CollectQualityError`, writing no
    partition, when too many records are rejected or an authoritative read shrank too much.

    One post_id is one post across days: when a native id shows up again with another date,
    the version with the newest `created_at` wins (ties: the one collected last) and the post
    leaves the other day's partition. Writers of one source take its lock (`source_lock`), so
    concurrent collects of one source cannot lose each other's posts."""
    from opinion.clean.privacy import reject_digest

    brands = load_brands(settings)
    salt = settings.author_salt()
    now = datetime.now(UTC)
    report = CollectReport(source)
    redactor = privacy_redactor(brands.handles, [w for b in brands for w in (b.name, *b.aliases)])
    fresh: dict[str, dict] = {}
    rejects: list[dict] = []
    batch: list[RawRecord] = []

    def flush() -> None:
        for rec, row in zip(batch, to_posts(batch, salt, redactor, now), strict=True):
            if isinstance(row, str):
                rejects.append({"record": json.dumps(rec.payload, default=str), "reason": row})
                continue
            old = fresh.get(row["post_id"])
            if old is not None:
                report.duplicates += 1
                if old["created_at"] > row["created_at"]:
                    continue
            fresh[row["post_id"]] = row
        batch.clear()

    for item in _progress(records, desc=f"collect {source}", unit="rec"):
        report.read += 1
        if isinstance(item, Reject):
            rejects.append({"record": item.record, "reason": item.reason})
            continue
        batch.append(item)
        if len(batch) >= PRIVACY_BATCH:
            flush()
    flush()
    for reject in rejects:
        reason = reject["reason"].split(":")[0]
        report.reasons[reason] = report.reasons.get(reason, 0) + 1
    report.rejected = len(rejects)
    reasons = redactor.redact_many([r["reason"] for r in rejects])
    rejects = [
        {"record": reject_digest(r["record"]), "reason": reason}
        for r, reason in zip(rejects, reasons, strict=True)
    ]
    write_rejects = lambda: lake.write_rejects(  # noqa: E731
        settings.lake_dir,
        "collect",
        source,
        run_key,
        [{**r, "stage": "collect", "source": source} for r in rejects],
    )
    with source_lock(settings.lake_dir, source):
        # sparse months become one month partition (lake.period_keys); busy ones stay daily
        days: dict[str, int] = {}
        for row in fresh.values():
            day = row["created_at"].strftime("%Y-%m-%d")
            days[day] = days.get(day, 0) + 1
        keys = lake.period_keys(settings.lake_dir, source, days)
        by_key, moved = _place_by_day(settings, source, fresh, keys)
        report.posts = sum(len(b) for b in by_key.values())
        _check_batch(settings, source, report, full_read, authoritative, write_rejects)
        keep = set(fresh) if authoritative else None
        parts = set(by_key) | set(moved)
        if authoritative:
            parts |= {p.day for p in lake.list_partitions(settings.lake_dir, "raw", source=source)}
        for key in sorted(parts):
            _merge_raw_partition(
                settings, source, key, by_key.get(key, {}), report, moved.get(key, set()), keep
            )
    write_rejects()
    if report.retracted:
        log.warning("%s: retracted %d post(s) no longer in the source", source, report.retracted)
    return report


def _place_by_day(
    settings: Settings, source: str, fresh: dict[str, dict], keys: dict[str, str]
) -> tuple[dict[str, dict[str, dict]], dict[str, set[str]]]:
    """(new rows by partition key, post ids to remove by partition key): a post already
    stored under another partition moves when the new version is at least as new, else the
    new version is dropped. `keys` maps each UTC day to its partition key (`period_keys`)."""
    stored: dict[str, tuple[str, datetime]] = {}
    for part in lake.list_partitions(settings.lake_dir, "raw", source=source):
        try:
            table = lake.read_table(part.file("posts"), columns=["post_id", "created_at"])
        except (OSError, pa.ArrowException):
            continue  # a corrupt partition is rewritten by the merge below, named by extract
        for pid, created in zip(
            table.column("post_id").to_pylist(), table.column("created_at").to_pylist(), strict=True
        ):
            stored[pid] = (part.day, created)
    by_day: dict[str, dict[str, dict]] = {}
    moved: dict[str, set[str]] = {}
    for pid, row in fresh.items():
        day = keys[row["created_at"].strftime("%Y-%m-%d")]
        if pid in stored and stored[pid][0] != day:
            old_day, old_created = stored[pid]
            if old_created is not None and old_created > row["created_at"]:
                continue
            moved.setdefault(old_day, set()).add(pid)
        by_day.setdefault(day, {})[pid] = row
    return by_day, moved


def _check_batch(settings, source, report, full_read, authoritative, write_rejects) -> None:
    """The loud data-quality guards of one batch (see `CollectQualityError`)."""
    limit = max_reject_ratio()
    if report.read >= REJECT_CHECK_MIN_ROWS and report.rejected > limit * report.read:
        write_rejects()  # the reasons stay inspectable in the lake
        by_count = sorted(report.reasons.items(), key=lambda x: -x[1])
        top = ", ".join(f"{reason} ×{n}" for reason, n in by_count)
        raise CollectQualityError(
            f"{source}: {report.rejected} of {report.read} rows rejected "
            f"(reject ratio {report.rejected / report.read:.1%} > limit {limit:.1%}); "
            f"nothing written; reasons: {top}"
        )
    if report.rejected:
        log.warning(
            "%s: %d of %d rows rejected (%.1f%%): %s",
            source, report.rejected, report.read, 100 * report.rejected / report.read,
            report.reasons,
        )  # fmt: skip
    if not full_read:
        return
    held = sum(
        int(lake.read_metadata(p.file("posts")).get(lake.META_ROW_COUNT, 0))
        for p in lake.list_partitions(settings.lake_dir, "raw", source=source)
    )
    ratio = min_rows_ratio()
    if held and report.posts < ratio * held:
        message = (
            f"{source}: the input holds {report.posts} posts, the lake {held} from earlier "
            f"reads (below {ratio:.0%})"
        )
        if authoritative:
            raise CollectQualityError(
                message + "; an authoritative file would retract the rest, nothing written "
                "(set OPINION_MIN_ROWS_RATIO=0 for this run to accept it)"
            )
        log.warning(message)


def _merge_raw_partition(
    settings: Settings,
    source: str,
    day: str,
    fresh: dict[str, dict],
    report: CollectReport,
    remove: set[str] = frozenset(),  # type: ignore[assignment]
    keep: set[str] | None = None,
) -> None:
    """Merge `fresh` into the partition; with `keep`, posts whose id is not in it go."""

    path = lake.partition_path(settings.lake_dir, "raw", source, day) / "posts.parquet"
    rows = dict(fresh)
    try:
        old_rows = lake.read_table(path).to_pylist() if path.exists() else None
    except (OSError, pa.ArrowException) as exc:
        log.warning("raw partition %s unreadable (%s); rewritten from this run", path, exc)
        old_rows = None
    if _AFTER_RAW_READ is not None:
        _AFTER_RAW_READ(str(path))
    if old_rows is not None:
        old = {r["post_id"]: r for r in old_rows if r["post_id"] not in remove}
        if len(old) != len(old_rows):
            old_rows = None  # a post moved to another day: the partition changes
        old_hash = _content_hash(list(old.values()))
        if keep is not None:
            kept = {pid: r for pid, r in old.items() if pid in keep}
            report.retracted += len(old) - len(kept)
            old = kept
        for pid, row in old.items():
            if pid in rows and _content_hash([row]) == _content_hash([rows[pid]]):
                rows[pid] = row  # unchanged post keeps its first collected_at
        merged = {**old, **rows}
        if old_rows is not None and _content_hash(list(merged.values())) == old_hash:
            report.partitions_unchanged += 1
            return
        rows = merged
    elif not rows:
        return
    table = pa.Table.from_pylist(
        sorted(rows.values(), key=lambda r: r["post_id"]), schema=lake.RAW_POSTS_SCHEMA
    )
    lake.write_partition(
        settings.lake_dir,
        "raw",
        source,
        day,
        {"posts": table},
        {"opinion.content_hash": _content_hash(list(rows.values()))},
    )
    report.partitions_written += 1


def collect_file(settings: Settings, cfg) -> CollectReport:
    """Collect a CSV/JSONL/Parquet export (`opinion.sources.files.FileSourceConfig`)."""
    from opinion.sources.files import read_file

    key = "file-" + hashlib.sha1(str(cfg.path.resolve()).encode()).hexdigest()[:12]
    return collect_records(read_file(cfg), settings, cfg.source, key)


# ---------------------------------------------------------------- extract


def _brand_and_target(text: str, source_brand: str | None, brands):
    """The brand a post is about and the span naming it (the post-level sentiment target).

    The text wins over the source's label: the demo CSV labels ~2,200 @JetBlue tweets as
    "Delta", and a CX team wants them counted for JetBlue. The source's label is kept when
    the text names no known brand."""
    found = brands.find(text)
    if found:
        return found[0], (found[1], found[2], brands.names_other(text, found))
    return source_brand, None


def _review_brand_and_target(text: str, source_brand: str | None, brands):
    """A review is filed under the brand it reviews: the source's label wins (a BA review that
    says "better than Delta" stays BA's). A label that is wholly a known brand's alias takes
    that brand's name ("Delta Air Lines" → "Delta"); the target is the text's first mention
    of that brand, if any."""
    if not source_brand:
        return _brand_and_target(text, source_brand, brands)
    label = source_brand.strip()
    named = brands.find(label)
    brand = named[0] if named and named[1] == 0 and named[2] == len(label) else label
    found = brands.find(text)
    return brand, ((found[1], found[2]) if found and found[0] == brand else None)


def is_review(row: dict) -> bool:
    """A post with a rating or a title is a review (of the brand it was collected for)."""
    return row.get("rating_scale") is not None or bool(row.get("title"))


def reading_text(row: dict) -> tuple[str, int]:
    """What the engine reads for a post, and where `text` starts in it: a review's title
    (ended as a sentence) then a blank line then its text; a post without a title, its text.

    `posts.text` stays the body, so mention offsets are mapped back (`_place_mention`)."""
    body, title = row.get("text") or "", (row.get("title") or "").strip()
    if not title:
        return body, 0
    head = title + ("" if title[-1] in ".!?…" else ".") + "\n\n"
    return head + body, len(head)


def _place_mention(start: int, end: int, offset: int, title_len: int):
    """(start, end, in_title) of a span of the reading text: offsets into `text`, or into
    `title` for a span inside the title; None for a span that straddles the two."""
    if start >= offset:
        return start - offset, end - offset, False
    if end <= title_len:
        return start, end, True
    return None


ANALYZE_CHUNK = 512  # posts per engine call: bounded memory, frequent progress updates


def extract_partition(
    partition, engine, brands, settings: Settings, progress=None
) -> tuple[int, int, int, int]:
    """Clean + analyse one raw partition and write its mentions partition."""

    from opinion.clean.dedupe import minhash_bands, text_fingerprint
    from opinion.clean.language import detect_language
    from opinion.clean.spam import spam_signals

    fingerprint = lake.file_fingerprint(partition.file("posts"))
    posts = lake.read_table(partition.file("posts")).to_pylist()
    now = datetime.now(UTC)
    english_idx = []
    targets: dict[int, tuple[int, int] | None] = {}
    for i, row in enumerate(posts):
        text = row["text"] or ""
        row["language"] = detect_language(text)
        row["is_english"] = row["language"] in ("en", "und")
        pick = _review_brand_and_target if is_review(row) else _brand_and_target
        row["brand"], targets[i] = pick(text, row["brand"], brands)
        score, reasons = spam_signals(text)
        row["spam_score"], row["spam_reasons"] = score, ",".join(reasons)
        row["text_hash"] = text_fingerprint(text)
        row["minhash_bands"] = minhash_bands(text)
        row["sentiment"] = row["sentiment_confidence"] = None
        row["model_version"] = engine.version
        row["extracted_at"] = now
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
            placed = _place_mention(a.start, a.end, offset, title_len)
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
        implicit = _implicit_mentions(posts, english_idx, results, mentions, engine.version)
        mapper(implicit)
        mentions += implicit
    lake.write_partition(
        settings.lake_dir,
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


def load_engine(settings: Settings, model: str | None = None):
    """The ABSA engine with the domain's taxonomy attached (seed-term spotting, friction
    terms) when a pack applies; models load once per process."""
    from opinion.nlp.engine import AbsaEngine

    extra_spans = friction = implicit = None
    try:
        from opinion.nlp.taxonomy import friction_for, implicit_for, term_spotter_for

        extra_spans, friction = term_spotter_for(settings), friction_for(settings)
        implicit = implicit_for(settings)
    except FileNotFoundError:
        log.warning("no taxonomy pack found; extracting with the tagger alone")
    engine = AbsaEngine.load(
        model or settings.model, settings.batch_size, extra_spans=extra_spans, friction=friction
    )
    if implicit is not None and hasattr(engine.tagger, "_states"):  # needs the joint model
        engine.implicit = implicit
    return engine


def _extract_all(settings: Settings, partitions: list, engine=None) -> ExtractReport:
    """Extract the given raw partitions with one engine (models load once), with progress."""
    import time

    started = time.time()
    engine = engine or load_engine(settings)
    brands = load_brands(settings)
    report = ExtractReport(engine.version)
    readable, total = [], 0
    for part in partitions:
        try:
            total += int(lake.read_metadata(part.file("posts")).get(lake.META_ROW_COUNT, 0))
            readable.append(part)
        except (OSError, ValueError, pa.ArrowException) as exc:
            _skip(report, part, exc)
    bar = _progress(None, total=total, desc="extract", unit="post")
    for part in readable:
        try:
            n, en, m, err = extract_partition(part, engine, brands, settings, bar.update)
        except (OSError, pa.ArrowException) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise
            _skip(report, part, exc)
            continue
        report.partitions += 1
        report.posts += n
        report.english += en
        report.mentions += m
        report.errors += err
    bar.close()
    report.seconds = round(time.time() - started, 1)
    return report


def _skip(report: ExtractReport, part, exc: BaseException) -> None:
    """A raw partition that cannot be read (truncated, not Parquet) is named and left out;
    the others are extracted. It stays pending until collect rewrites it."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    name = f"raw/source={part.source}/day={part.day}"
    log.warning("skipping unreadable partition %s: %s", name, first)
    report.skipped.append(f"{name}: {first[:200]}")


def extract(
    settings: Settings, engine=None, sources: Iterable[str] | None = None, force: bool = False
) -> ExtractReport:
    """Analyse every raw partition that is new, changed, or made by another model version."""
    from opinion.nlp.registry import model_version

    version = engine.version if engine is not None else model_version(settings.model)
    todo = (
        lake.list_partitions(settings.lake_dir, "raw")
        if force
        else lake.stale_raw_partitions(settings.lake_dir, version, taxonomy_version(settings) or "")
    )
    if sources is not None:
        wanted = set(sources)
        todo = [p for p in todo if p.source in wanted]
    if not todo:
        return ExtractReport(version)
    return _extract_all(settings, todo, engine)


# ---------------------------------------------------------------- taxonomy head


def fit_taxonomy(
    settings: Settings, pack: str | None = None, echo=None, limit: int | None = None
) -> dict:
    """Fit the implicit-category head of a pack (default: the brand list's domain) on the
    lake's raw posts (the first `limit` by post_id, when given), weakly labelled by the pack
    itself (`opinion.nlp.categories`), and store it beside the pack: the pack's version
    changes, so the next `extract` redoes every partition with it."""
    import pyarrow.parquet as pq

    from opinion.nlp.categories import FitConfig, fit_head, head_path
    from opinion.nlp.taxonomy import mapper_for, pack_path, taxonomy_for

    path = pack_path(settings, pack)
    if pack and path.stem != pack:
        raise ValueError(f"no taxonomy pack {pack!r} in {path.parent}")
    taxonomy = taxonomy_for(settings, path.stem)
    by_id: dict[str, str] = {}
    for part in lake.list_partitions(settings.lake_dir, "raw"):
        table = pq.read_table(part.file("posts"), columns=["post_id", "text"])
        ids, bodies = table.column("post_id").to_pylist(), table.column("text").to_pylist()
        for post_id, text in zip(ids, bodies, strict=True):
            if text and text.strip():
                by_id[post_id] = text
    if not by_id:
        raise ValueError(f"no raw posts in {settings.lake_dir} (run `opinion collect` first)")
    texts = [by_id[k] for k in sorted(by_id)][:limit]  # post_id order: a stable sample
    engine = load_engine(settings)
    head, report = fit_head(
        texts, engine, mapper_for(settings, path.stem), taxonomy, FitConfig(), echo
    )
    out = head_path(path)
    head.save(out)
    report["head"] = str(out)
    report["taxonomy_version"] = taxonomy_for(settings, path.stem).version
    return report


# ---------------------------------------------------------------- load


def load(settings: Settings, rebuild: bool = False):
    """Merge the lake into the warehouse (single writer) and publish the read snapshot;
    `rebuild` recomputes dup_of and every aggregate from all rows.

    A second `load` of the same warehouse waits for the first (`OPINION_LOCK_TIMEOUT`, default
    600 s) instead of failing on DuckDB's file lock, then stops with one clear line. Disk full
    (ENOSPC) becomes a one-line error as well."""
    from pathlib import Path

    from opinion.locks import held
    from opinion.warehouse.load import load_lake

    writer = Path(settings.writer_warehouse)
    with held(writer.with_name(writer.name + ".lock"), f"a load of {writer.name}"):
        return _no_space(lambda: load_lake(settings, rebuild=rebuild), "load")


def _no_space(fn, stage: str):
    """Run `fn`; a full disk, or a writer file another program holds, becomes one clear
    RuntimeError instead of a traceback."""
    import duckdb

    try:
        return fn()
    except duckdb.IOException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "No space left" in first or "lock" in first.lower():
            raise RuntimeError(f"{stage}: {first}") from None
        raise
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        raise RuntimeError(
            f"{stage}: no space left on device{where}; free space and re-run"
        ) from None


# ---------------------------------------------------------------- scheduler-facing helpers
# Small, JSON-friendly entry points for Airflow tasks (they pass names, not objects).


def job_names(settings: Settings) -> list[str]:
    """Names of the enabled collect jobs in the configuration (`opinion.yaml`)."""
    from opinion.sources.config import configured_jobs

    return [job.name for job in configured_jobs(settings)]


def collect_job(settings: Settings, name: str) -> list[dict]:
    """Run one configured collect job; returns one report per source of the job."""
    from opinion.sources.run import run_job

    return run_job(settings, name)


def pending_partitions(settings: Settings) -> list[str]:
    """Raw partitions (as `source/day`) that extract must (re)process for the current model."""
    from opinion.nlp.registry import model_version

    stale = lake.stale_raw_partitions(
        settings.lake_dir, model_version(settings.model), taxonomy_version(settings) or ""
    )
    return [f"{p.source}/{p.day}" for p in stale]


def extract_partitions(settings: Settings, names: Iterable[str], engine=None) -> dict:
    """Extract the given `source/day` raw partitions (one Airflow mapped task each)."""
    raw = {f"{p.source}/{p.day}": p for p in lake.list_partitions(settings.lake_dir, "raw")}
    missing = [n for n in names if n not in raw]
    if missing:
        raise ValueError(f"no raw partition {missing[0]!r} in {settings.lake_dir}")
    return _extract_all(settings, [raw[n] for n in names], engine).__dict__
