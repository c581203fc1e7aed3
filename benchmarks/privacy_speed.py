"""Collect's privacy step (`opinion.collect.gate.to_posts`) on the demo corpus: posts/s, and
the rows it writes, so two versions of the code can be compared row by row (issue #25).

    # the speed, 3 passes after a warm-up (the same pass as `opinion bench`'s privacy_posts_per_s)
    PYTHONPATH=. python benchmarks/privacy_speed.py --repeats 3
    # before/after: each checkout's rows, then the differences
    PYTHONPATH=/tmp/old python benchmarks/privacy_speed.py --dump /tmp/old.jsonl
    PYTHONPATH=. python benchmarks/privacy_speed.py --dump /tmp/new.jsonl
    python benchmarks/privacy_speed.py --compare /tmp/old.jsonl /tmp/new.jsonl

`--startup` times the one-time loads (Presidio import and engines, spaCy, gazetteer).
`--alternate OLD_ROOT NEW_ROOT` runs the timing in child processes, old and new in turns,
`--repeats` times each (the machine is shared: turns keep both under the same load), and
prints both medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

FIELDS = ("native_id", "text", "title", "brand", "url", "author_hash", "raw")


def _records():
    from opinion.config import Settings
    from opinion.demo import demo_corpus
    from opinion.records import RawRecord
    from opinion.sources.files import AIRLINE_TWEETS, TWEET_URL, FileSourceConfig, read_file

    cfg = FileSourceConfig(
        demo_corpus(Settings.from_env()), "airline_tweets", AIRLINE_TWEETS, TWEET_URL
    )
    return [r for r in read_file(cfg) if isinstance(r, RawRecord)]


def dump(path: str) -> None:
    """Every demo record's row (or reject reason) through `to_posts`, one JSON line each."""
    from opinion.clean.brands import load_brands
    from opinion.collect.gate import PRIVACY_BATCH, privacy_redactor, to_posts
    from opinion.config import Settings

    brands = load_brands(Settings.from_env())
    redactor = privacy_redactor(brands.handles, [w for b in brands for w in (b.name, *b.aliases)])
    records = _records()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with open(path, "w", encoding="utf-8") as out:
        for c in range(0, len(records), PRIVACY_BATCH):
            for row in to_posts(records[c : c + PRIVACY_BATCH], "bench-salt", redactor, now):
                keep = row if isinstance(row, str) else {k: row[k] for k in FIELDS}
                out.write(json.dumps(keep, ensure_ascii=False, default=str) + "\n")


def compare(old: str, new: str) -> int:
    """Rows that differ between two dumps, field by field; the count of differing rows."""
    with open(old, encoding="utf-8") as a, open(new, encoding="utf-8") as b:
        pairs = list(zip(a, b, strict=True))
    differ = 0
    for i, (x, y) in enumerate(pairs):
        if x == y:
            continue
        differ += 1
        rx, ry = json.loads(x), json.loads(y)
        for k in FIELDS:
            if rx.get(k) != ry.get(k):
                print(f"row {i} {k}:\n  old: {rx.get(k)}\n  new: {ry.get(k)}")
    print(f"{differ} of {len(pairs)} rows differ")
    return differ


def speed(repeats: int) -> tuple[list[float], list[float]]:
    """(posts per wall second, posts per CPU second) of `repeats` passes over the demo corpus:
    the pass of `opinion.bench.privacy_pass` (after the same 64-record warm-up). CPU time is
    this process's own, so other sessions on the shared machine do not count."""
    from opinion.clean.brands import load_brands
    from opinion.collect.gate import PRIVACY_BATCH, privacy_redactor, to_posts
    from opinion.config import Settings

    brands = load_brands(Settings.from_env())
    redactor = privacy_redactor(brands.handles, [w for b in brands for w in (b.name, *b.aliases)])
    records = _records()
    now = datetime.now(UTC)
    to_posts(records[:64], "bench-salt", redactor, now)  # loads spaCy + Presidio
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        for c in range(0, len(records), PRIVACY_BATCH):
            to_posts(records[c : c + PRIVACY_BATCH], "bench-salt", redactor, now)
        wall.append(len(records) / (time.perf_counter() - started))
        cpu.append(len(records) / (time.process_time() - started_cpu))
    return wall, cpu


def startup() -> dict[str, float]:
    """Seconds of each one-time cost of a collect process's privacy step, in load order (all
    cached per process: a second `to_posts` pays none of them)."""
    steps: dict[str, float] = {}

    def timed(name: str, load) -> None:
        started = time.perf_counter()
        load()
        steps[name] = round(time.perf_counter() - started, 2)

    from opinion.clean import names, privacy
    from opinion.spacy_pipeline import load_spacy

    timed("import presidio_analyzer", privacy._import_presidio)
    timed("import presidio_anonymizer", lambda: __import__("presidio_anonymizer"))
    timed("spaCy pipeline", load_spacy)
    timed("Presidio engines", privacy._engine)
    timed("pattern gates", privacy._pattern_gates)
    timed("first-name gazetteer", names.first_names)
    timed("first redaction", lambda: privacy.Redactor().redact_many(["Mail Rose Baker at x@y.io"]))
    started = time.perf_counter()
    privacy.Redactor().redact_many(["Mail Rose Baker at x@y.io again"])
    steps["second redaction"] = round(time.perf_counter() - started, 3)
    return steps


def alternate(old_root: str, new_root: str, repeats: int) -> None:
    """Old and new in turns, each pass a fresh process (so each pays its own first build)."""
    rates: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for _ in range(repeats):
        for name, root in (("old", old_root), ("new", new_root)):
            env = {**os.environ, "PYTHONPATH": root}
            started = time.perf_counter()
            res = subprocess.run(
                [sys.executable, __file__, "--repeats", "1", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            got = json.loads(res.stdout.strip().splitlines()[-1])
            rates[name].append((got["wall"][0], got["cpu"][0]))
            print(
                f"{name}: {got['wall'][0]:.0f} posts/s wall, {got['cpu'][0]:.0f} posts/CPU-s "
                f"(process {time.perf_counter() - started:.1f} s)"
            )
    for name, values in rates.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"{name} median over {len(values)}: {wall:.0f} posts/s wall, {cpu:.0f} posts/CPU-s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dump")
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"))
    parser.add_argument("--alternate", nargs=2, metavar=("OLD_ROOT", "NEW_ROOT"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--startup", action="store_true", help="time the one-time loads")
    args = parser.parse_args()
    if args.compare:
        sys.exit(1 if compare(*args.compare) else 0)
    if args.dump:
        dump(args.dump)
        return
    if args.startup:
        print(json.dumps(startup(), indent=1))
        return
    if args.alternate:
        alternate(*args.alternate, args.repeats)
        return
    wall, cpu = speed(args.repeats)
    if args.json:
        print(json.dumps({"wall": wall, "cpu": cpu}))
    else:
        print(f"posts/s (wall): {[round(r) for r in wall]}, median {statistics.median(wall):.0f}")
        print(f"posts/CPU-s: {[round(r) for r in cpu]}, median {statistics.median(cpu):.0f}")


if __name__ == "__main__":
    main()
