"""Benchmark script: `python benchmarks/bench_extract.py [--limit N]` (same as `opinion bench`).

Medians of repeated runs, batched engine and naive baseline measured side by side in one run.
"""

import sys

from opinion.cli import main

if __name__ == "__main__":
    main(["bench", "--json", *sys.argv[1:]])
