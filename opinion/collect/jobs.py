"""Running a source: read its cursor, write each page to the lake, then save the cursor.

`collect_source(settings, source)` is the one loop every connector goes through:

1. `read_cursor(lake, source.name, source.key)`;
2. for each `Page` of `source.pages(cursor)`: `collect_records(page.records, …, run_key)` writes
   the raw partitions (merged by post_id) and the page's rejects file, *then* the page's
   `next_cursor` is saved — so a crash between pages resumes after the last page written, with
   no gap (the cursor never runs ahead of the lake) and no duplicate (post ids are stable);
3. stop when the source is done, or after the page that reaches `limit` records.

`run_job` runs one configured job of `opinion.yaml` (one source per query).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from typing import Any

from opinion.collect.partitions import collect_records
from opinion.config import Settings
from opinion.sources.base import Source
from opinion.sources.registry import WINDOWED
from opinion.sources.state import read_cursor, write_cursor

log = logging.getLogger(__name__)


def _run_key(source: Source, page) -> str:
    if page.run_key:
        return page.run_key
    ident = page.key or ""
    prefix = re.sub(r"[^A-Za-z0-9_.\-]", "-", source.key)[:60].strip("-.") or "page"
    return f"{prefix}-{hashlib.sha1(ident.encode()).hexdigest()[:12]}"


_SUMMED = (
    "read",
    "posts",
    "rejected",
    "duplicates",
    "partitions_written",
    "partitions_unchanged",
    "retracted",
)


def collect_source(
    settings: Settings,
    source: Source,
    limit: int | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> dict:
    """Collect `source` into the lake from its saved cursor; returns a JSON-able report.
    With `window` (since, until; a connector in `WINDOWED`), collect exactly that window and
    leave the saved cursor alone (a backfill does not move the live cursor)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if window is not None:
        cursor = WINDOWED[source.config.connector](*window)
    else:
        cursor = read_cursor(settings.lake_dir, source.name, source.key)
    reread = _unreadable_raw(settings, source.name) if window is None else []
    if reread:
        cursor = None
    report: dict[str, Any] = {
        "source": source.name,
        "key": source.key,
        "cursor_before": cursor,
        "pages": 0,
        "skipped": 0,
        **{k: 0 for k in _SUMMED},
        "reasons": {},
        "cursor": cursor,
        "complete": True,
    }
    if reread:
        report["reread"] = reread
    pages = source.pages(cursor)
    try:
        for page in pages:
            rep = collect_records(
                page.records, settings, source.name, _run_key(source, page),
                full_read=source.config.connector == "files",
                authoritative=bool(getattr(source.config, "authoritative", False)),
            )  # fmt: skip
            for k in _SUMMED:
                report[k] += getattr(rep, k)
            for reason, n in rep.reasons.items():
                report["reasons"][reason] = report["reasons"].get(reason, 0) + n
            if rep.salt:  # the salt fingerprint was recorded (first collect, --new-salt)
                report["salt"] = rep.salt
                log.warning("%s", rep.salt)
            report["pages"] += 1
            report["skipped"] += page.skipped
            if page.next_cursor is not None and window is None:
                write_cursor(settings.lake_dir, source.name, source.key, page.next_cursor)
                report["cursor"] = page.next_cursor
            if limit is not None and report["read"] >= limit:
                report["complete"] = False
                break
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()
    client = getattr(source, "client", None)
    if client is not None and hasattr(client, "requests"):
        report["requests"], report["retries"] = client.requests, client.retries
    log.info("collected %s/%s: %s", source.name, source.key, report)
    return report


def _unreadable_raw(settings: Settings, source: str) -> list[str]:
    """Raw partitions of `source` that cannot be read (named in a warning). Their posts are
    missing downstream, and a cursor would say the records were already collected, so every
    cursor of the source is forgotten: this collect and the next one of each other key read
    from the start, and the merge rewrites the damaged partitions."""
    from opinion.sources.state import forget_cursors

    bad = [p.relpath for p in settings.lake.unreadable_partitions("raw", source)]
    if bad:
        forget_cursors(settings.lake_dir, source)
        log.warning(
            "%s: %d raw partition(s) unreadable (%s); reading the source again from the start "
            "to rewrite them", source, len(bad), ", ".join(bad[:5]),
        )  # fmt: skip
    return bad


def run_job(
    settings: Settings,
    job,
    limit: int | None = None,
    client=None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict]:
    """Run one configured job (a `CollectJob` or its name): one source per query. `since` and
    `until` collect that window for connectors in `WINDOWED` (others use their cursor)."""
    from opinion.sources.config import get_job

    if isinstance(job, str):
        job = get_job(job, settings)
    window = None
    if (since or until) and job.source in WINDOWED:
        window = (since or datetime(1970, 1, 1, tzinfo=UTC), until or datetime.now(UTC))
    reports = []
    for source in job.sources(client=client):
        try:
            report = collect_source(settings, source, limit=limit, window=window)
        finally:
            if client is None:
                source.close()
        reports.append({"job": job.name, **report})
    return reports
