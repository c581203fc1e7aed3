"""No silent loss: concurrent collects of one source, one native id on two days, a changed
mapping, out-of-range timestamps, huge texts and corrupt partitions."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq

from opinion.lake import Lake

SOURCE = "airline_tweets"


def _ids(path) -> set[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["tweet_id"] for row in csv.DictReader(fh)}


def _lake_ids(lake_dir) -> list[str]:
    out = []
    for part in Lake.of(lake_dir).list_partitions("raw", source=SOURCE):
        out += pq.read_table(part.file("posts"), columns=["native_id"]).column(0).to_pylist()
    return out


def _collect_demo_file(lake_dir: str, path: str, go, meet) -> None:
    """One `opinion collect airline-demo --path PATH` (what the CLI runs), in a child.

    The test hook widens each partition's read → write window and makes the two children
    meet there once: without the source lock both would then merge the same days at the same
    time and overwrite each other's posts (checked: 21 of 600 lost in the first run). With the
    lock the second child never gets there while the first waits, so the meeting times out."""
    import threading
    import time

    from opinion.collect import partitions

    def widen(_path: str) -> None:
        try:
            meet.wait(3)
        except threading.BrokenBarrierError:
            pass
        time.sleep(0.3)

    partitions._AFTER_RAW_READ = widen
    from opinion.collect.jobs import collect_source
    from opinion.config import Settings
    from opinion.demo import DEMO_SOURCE
    from opinion.sources.files import AIRLINE_TWEETS, TWEET_URL
    from opinion.sources.registry import build_source

    settings = Settings.from_env(lake_dir=lake_dir)
    options = dict(name=DEMO_SOURCE, mapping=AIRLINE_TWEETS, url_template=TWEET_URL)
    go.wait(60)  # both children start collecting at the same moment
    with build_source("files", path=path, **options) as src:
        collect_source(settings, src)


def test_two_concurrent_collects_of_one_source_lose_nothing(tmp_path, demo_slice):
    """Two processes collect disjoint files into the same source at the same moment, five
    times over: every post of both files is in the lake, each exactly once. The children are
    forked from a process that already loaded spaCy + Presidio, so a run takes seconds."""
    import multiprocessing

    from opinion.clean.privacy import redact

    redact("warm up Presidio and spaCy before forking")
    with demo_slice(tmp_path / "all.csv", 600).open(newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"  # every other tweet: the same days in both
    for path, part in ((a, rows[0::2]), (b, rows[1::2])):
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header, *part])
    expected = _ids(a) | _ids(b)
    ctx = multiprocessing.get_context("fork")
    for run in range(5):
        lake_dir = tmp_path / f"lake{run}"
        go, meet = ctx.Event(), ctx.Barrier(2)
        procs = [
            ctx.Process(target=_collect_demo_file, args=(str(lake_dir), str(p), go, meet))
            for p in (a, b)
        ]
        for proc in procs:
            proc.start()
        go.set()
        for proc in procs:
            proc.join(300)
            assert proc.exitcode == 0, f"run {run}: a collect failed"
        ids = _lake_ids(lake_dir)
        assert len(ids) == len(set(ids)), f"run {run}: a post stored twice"
        assert set(ids) == expected, f"run {run}: lost {len(expected - set(ids))} posts"


def _collect(settings, rows: list[dict], name="h.jsonl", mapping=None):
    from opinion.collect.partitions import collect_file
    from opinion.sources.files import FileSourceConfig

    path = settings.lake_dir.parent / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mapping = mapping or {"native_id": "id", "text": "text", "created_at": "ts"}
    return collect_file(settings, FileSourceConfig(path, "hostile", mapping))


def _stored(settings) -> dict[str, tuple[str, str]]:
    out = {}
    for part in settings.lake.list_partitions("raw", source="hostile"):
        for row in pq.read_table(part.file("posts")).to_pylist():
            assert row["native_id"] not in out, "one native id in two partitions"
            out[row["native_id"]] = (part.day, row["text"])
    return out


def test_one_native_id_is_one_post_across_days_newest_wins(settings):
    _collect(settings, [{"id": "7", "text": "first version", "ts": "2015-02-20T10:00:00Z"}])
    _collect(
        settings, [{"id": "7", "text": "edited version", "ts": "2015-02-22T10:00:00Z"}], "b.jsonl"
    )
    assert _stored(settings) == {"7": ("2015-02-22", "edited version")}
    # an older version arriving later does not win
    _collect(settings, [{"id": "7", "text": "stale copy", "ts": "2015-02-19T10:00:00Z"}], "c.jsonl")
    assert _stored(settings) == {"7": ("2015-02-22", "edited version")}
    # within one file too
    _collect(
        settings,
        [
            {"id": "8", "text": "later", "ts": "2015-03-02T10:00:00Z"},
            {"id": "8", "text": "earlier", "ts": "2015-03-01T10:00:00Z"},
        ],
        "d.jsonl",
    )
    assert _stored(settings)["8"] == ("2015-03-02", "later")


def test_changed_mapping_rereads_the_file(settings):
    from opinion.collect.jobs import collect_source
    from opinion.sources.registry import build_source

    path = settings.lake_dir.parent / "m.csv"
    path.write_text("id,body,ts\n1,hello there,2015-02-20 10:00:00 -0800\n")
    wrong = {"native_id": "id", "text": "text", "created_at": "ts"}
    right = {"native_id": "id", "text": "body", "created_at": "ts"}
    with build_source("files", path=str(path), name="hostile", mapping=wrong) as src:
        first = collect_source(settings, src)
    assert first["posts"] == 0 and first["rejected"] == 1
    with build_source("files", path=str(path), name="hostile", mapping=wrong) as src:
        assert collect_source(settings, src)["pages"] == 0  # same file, same options: skipped
    with build_source("files", path=str(path), name="hostile", mapping=right) as src:
        fixed = collect_source(settings, src)
    assert fixed["pages"] == 1 and fixed["posts"] == 1


def test_timestamps_out_of_range_rejected_per_row_and_text_capped(settings):
    from opinion.collect.gate import MAX_TEXT_CHARS, TRUNCATED_MARK

    huge = "word " * 1_000_000  # 5 MB
    report = _collect(
        settings,
        [
            {"id": "1", "text": "too old", "ts": "1970-01-01T00:00:00Z"},
            {"id": "2", "text": "too new", "ts": "9999-12-31T00:00:00Z"},
            {"id": "3", "text": "fine", "ts": "2015-02-20T10:00:00Z"},
            {"id": "4", "text": huge, "ts": "2015-02-20T11:00:00Z"},
        ],
    )
    assert report.posts == 2 and report.rejected == 2
    assert all("outside" in r or "invalid post" in r for r in report.reasons)
    stored = _stored(settings)
    assert set(stored) == {"3", "4"}
    text = stored["4"][1]
    assert len(text) <= MAX_TEXT_CHARS + len(TRUNCATED_MARK) and text.endswith(TRUNCATED_MARK)
    raw = next(
        r["raw"]
        for p in settings.lake.list_partitions("raw", source="hostile")
        for r in pq.read_table(p.file("posts")).to_pylist()
        if r["native_id"] == "4"
    )
    assert len(raw) < 2 * MAX_TEXT_CHARS


def test_corrupt_raw_partition_is_skipped_and_named(settings, engine):
    from opinion.extract.stage import extract

    # one post a month: three day partitions (a sparse month would be one month partition)
    _collect(
        settings,
        [
            {"id": "1", "text": "@united lost my bag", "ts": "2015-02-20T10:00:00Z"},
            {"id": "2", "text": "@united great crew", "ts": "2015-03-21T10:00:00Z"},
            {"id": "3", "text": "@united seat broken", "ts": "2015-04-22T10:00:00Z"},
        ],
    )
    bad = settings.lake.partition_path("raw", "hostile", "2015-02-20") / "posts.parquet"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    report = extract(settings, engine)
    assert report.partitions == 2 and report.posts == 2
    assert len(report.skipped) == 1 and "day=2015-02-20" in report.skipped[0]
    done = {p.day for p in settings.lake.list_partitions("mentions")}
    assert done == {"2015-03-21", "2015-04-22"}
