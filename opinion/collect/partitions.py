"""Raw partitions: a batch of source records through the privacy gate into the lake.

`collect_records` is the one writer of `lake/raw/`: rows merged by post_id with what each
source × day (or × month) partition already holds, unchanged partitions left alone, rejects
written under the run's key, and the collect quality guard (`CollectQualityError`) checked
before anything is written. Writers of one source take its lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from opinion import lake
from opinion.collect.gate import PRIVACY_BATCH, privacy_redactor, taxonomy_words, to_posts
from opinion.config import Settings
from opinion.progress import progress
from opinion.records import RawRecord, Reject

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
    salt: str | None = None  # what `Lake.check_salt` recorded, when it recorded something


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
    `Lake.period_keys`), merged by post_id with what the
    partition already holds; unchanged partitions are not rewritten. Rejects go to the lake
    under `run_key`, so the same input collected twice replaces its rejects file.

    `full_read`: the records are the source's whole content (a file), so their count is
    compared with the posts the lake holds for `source`. `authoritative`: posts of `source`
    that the records no longer hold are retracted (removed from their raw partitions; extract
    and load then drop them from the warehouse). Raises `CollectQualityError`, writing no
    partition, when too many records are rejected or an authoritative read shrank too much.

    One post_id is one post across days: when a native id shows up again with another date,
    the version with the newest `created_at` wins (ties: the one collected last) and the post
    leaves the other day's partition. Writers of one source take its lock (`Lake.source_lock`), so
    concurrent collects of one source cannot lose each other's posts."""
    from opinion.clean.brands import load_brands
    from opinion.clean.privacy import reject_digest, safe_reason

    brands = load_brands(settings)
    salt = settings.author_salt()
    now = datetime.now(UTC)
    report = CollectReport(source)
    report.salt = settings.lake.check_salt(salt, settings.new_salt)
    redactor = privacy_redactor(
        [*brands.handles, *brands.organisations],
        [w for b in brands for w in (b.name, *b.aliases)] + taxonomy_words(settings),
    )
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

    for item in progress(records, desc=f"collect {source}", unit="rec"):
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
    reasons = redactor.redact_many([safe_reason(r["reason"]) for r in rejects])
    rejects = [
        {"record": reject_digest(r["record"]), "reason": reason}
        for r, reason in zip(rejects, reasons, strict=True)
    ]
    write_rejects = lambda: settings.lake.write_rejects(  # noqa: E731
        "collect",
        source,
        run_key,
        [{**r, "stage": "collect", "source": source} for r in rejects],
    )
    with settings.lake.source_lock(source):
        # sparse months become one month partition (Lake.period_keys); busy ones stay daily
        days: dict[str, int] = {}
        for row in fresh.values():
            day = row["created_at"].strftime("%Y-%m-%d")
            days[day] = days.get(day, 0) + 1
        keys = settings.lake.period_keys(source, days)
        by_key, moved = _place_by_day(settings, source, fresh, keys)
        report.posts = sum(len(b) for b in by_key.values())
        _check_batch(settings, source, report, full_read, authoritative, write_rejects)
        keep = set(fresh) if authoritative else None
        parts = set(by_key) | set(moved)
        if authoritative:
            parts |= {p.day for p in settings.lake.list_partitions("raw", source=source)}
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
    for part in settings.lake.list_partitions("raw", source=source):
        try:
            table = part.read("posts", columns=["post_id", "created_at"])
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
    held = 0
    for part in settings.lake.list_partitions("raw", source=source):
        try:
            held += int(part.metadata("posts").get(lake.META_ROW_COUNT, 0))
        except (OSError, ValueError, pa.ArrowException):
            continue  # unreadable: rewritten by the merge below
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

    path = settings.lake.partition_path("raw", source, day) / "posts.parquet"
    rows = dict(fresh)
    try:
        old_rows = settings.lake.read_table(path).to_pylist() if path.exists() else None
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
    settings.lake.write_partition(
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
