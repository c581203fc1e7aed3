"""What users see, beside the engine's figures: `opinion collect` (privacy included) and
`opinion extract --force` run as the commands a user types, each its own process, wall time
start-up included, over a fresh lake of the demo tweets.

The engine's batched posts/s (`opinion.bench.fast_pass`) is the ceiling; the share of it that
`extract` reaches says how much the stage adds (start-up, cleaning, mapping, Parquet).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opinion.config import Settings


def _child_peak_rss_mb() -> float:
    """Largest peak RSS of any waited-for child process so far (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def _run(args: list[str], env: dict[str, str]) -> tuple[dict, float]:
    """(the command's JSON report, its wall seconds); a failure is one line."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "opinion", *args], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"`opinion {' '.join(args)}` failed ({proc.returncode}): {last}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), seconds


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
        collected, collect_s = _run(["collect", "airline-demo", "--path", str(corpus)], env)
        before = _child_peak_rss_mb()
        extracted, extract_s = _run(["extract", "--force"], env)
        posts = int(extracted.get("posts") or 0)
        rss = _child_peak_rss_mb()
        return {
            "collect_records": int(collected.get("read") or 0),
            "collect_posts_per_s": round(int(collected.get("read") or 0) / collect_s, 1),
            "extract_posts": posts,
            "extract_wall_s": round(extract_s, 1),
            "extract_posts_per_s": round(posts / extract_s, 1),
            # the children's high-water mark: extract's own when it is the larger process
            "extract_peak_rss_mb": round(rss, 1) if rss > before else None,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
