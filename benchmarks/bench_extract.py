"""Benchmark script: `python benchmarks/bench_extract.py [--limit N]` (same as `opinion bench`).

Medians of repeated runs, batched engine and naive baseline measured side by side in one run.
"""

from opinion.cli import main

if __name__ == "__main__":
    main(["bench", "--json"] + __import__("sys").argv[1:])
