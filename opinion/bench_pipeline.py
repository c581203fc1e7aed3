"""What users see, beside the engine's figures: `opinion collect` (privacy included) and
`opinion extract --force` run as the commands a user types, each its own process, wall time
start-up included, over a fresh lake of the demo tweets.

The engine's batched posts/s (`opinion.bench.fast_pass`) is the ceiling; the share of it that
`extract` reaches says how much the stage adds (start-up, cleaning, mapping, Parquet).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opinion.config import Settings

# runs `opinion ARGS` and writes the process's own peak RSS (KiB) to stderr's last line.
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child spawned
# by a 1 GB bench would report the bench's size.
_MEASURED = (
    "import atexit, runpy, sys\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as fh:\n"
    "        kb = [ln.split()[1] for ln in fh if ln.startswith('VmHWM:')]\n"
    "    print('PEAK_RSS_KB', kb[0] if kb else 0, file=sys.stderr)\n"
    "atexit.register(_peak)\n"
    "sys.argv = ['opinion', *sys.argv[1:]]\n"
    "runpy.run_module('opinion', run_name='__main__')\n"
)


def _run(args: list[str], env: dict[str, str]) -> tuple[dict, float, float | None]:
    """(the command's JSON report, its wall seconds, its peak RSS in MB); a failure is one
    line."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"`opinion {' '.join(args)}` failed ({proc.returncode}): {last}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    peaks = [ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("PEAK_RSS_KB ")]
    peak = round(int(peaks[-1]) / 1024.0, 1) if peaks and int(peaks[-1]) else None
    return (json.loads(lines[-1]) if lines else {}), seconds, peak


def pipeline_pass(limit: int | None = None, model: str | None = None) -> dict:
    """Collect the demo tweets (the first `limit`) into a temporary lake with
    `opinion collect airline-demo`, then `opinion extract --force` over it; posts/s of each
    command, start-up included, and extract's peak RSS. The lake is removed afterwards."""
    from opinion.demo import demo_corpus, first_rows

    work = Path(tempfile.mkdtemp(prefix="opinion-bench-"))
    try:
        corpus = demo_corpus(Settings.from_env())
        corpus = first_rows(corpus, work / "corpus.csv", limit) if limit else corpus
        env = {
            **os.environ,
            "OPINION_LAKE": str(work / "lake"),
            "OPINION_STATE": str(work / "state"),
            "OPINION_WAREHOUSE": str(work / "warehouse" / "opinion.duckdb"),
            "OPINION_AUTHOR_SALT": os.environ.get("OPINION_AUTHOR_SALT") or "bench-salt",
        }
        if model:
            env["OPINION_MODEL"] = model
        collected, collect_s, collect_rss = _run(
            ["collect", "airline-demo", "--path", str(corpus)], env
        )
        extracted, extract_s, extract_rss = _run(["extract", "--force"], env)
        posts = int(extracted.get("posts") or 0)
        return {
            "collect_records": int(collected.get("read") or 0),
            "collect_posts_per_s": round(int(collected.get("read") or 0) / collect_s, 1),
            "collect_peak_rss_mb": collect_rss,
            "extract_posts": posts,
            "extract_wall_s": round(extract_s, 1),
            "extract_posts_per_s": round(posts / extract_s, 1),
            "extract_peak_rss_mb": extract_rss,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
