"""Speed of the cleaning helpers on worst-case inputs (moved here from tests/clean: a wall-clock
assertion fails on a loaded CI machine; a benchmark reports medians instead).

    python benchmarks/clean_speed.py [--repeat 5] [--json]

Each case runs `--repeat` times; the median and the old test's limit are printed side by side
(`within` says whether the median is under it on this machine, now).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta


def _items(*texts: str):
    start = datetime(2015, 2, 20, tzinfo=UTC)
    return [(f"p{i}", start + timedelta(minutes=i), t) for i, t in enumerate(texts)]


def cases() -> dict:
    """name → (callable, limit the former test asserted, in seconds)."""
    from opinion.clean.dedupe import find_duplicates, minhash_bands
    from opinion.clean.language import detect_language
    from opinion.clean.normalize import normalize_text
    from opinion.clean.privacy import redact
    from opinion.clean.spam import spam_signals

    big = " ".join(f"word{i % 7000}" for i in range(170_000))[:1_000_000]
    batch = [
        f"@united flight {i} from city{i % 97} to town{i % 89} was late by {i % 13} hours again"
        for i in range(15_000)
    ]
    lang = ("my flight was delayed again and nobody helped " * 25_000)[:1_000_000]
    norm = ("@united &amp; delayed\u200b again \t\n" * 40_000)[:1_000_000]
    pii = "".join(
        f"@bob{i} call 555-123-{i:04d} flight {i} https://x.co/a?b={i} " for i in range(200)
    )[:10_000]
    spam = (
        "FREE FOLLOWERS click here http://x.co #a #b #c #d #e @a @b @c @d @e !!!!!!!! " * 14_000
    )[:1_000_000]
    redact("warm up")
    return {
        "dedupe_1mb_text": (
            lambda: (
                minhash_bands(big),
                find_duplicates(_items(big, big.replace("word17 ", "x ", 1))),
            ),
            5.0,
        ),
        "dedupe_batch_15k": (lambda: find_duplicates(_items(*batch)), 10.0),
        "language_1mb": (lambda: detect_language(lang), 5.0),
        "normalize_1mb": (lambda: normalize_text(norm), 2.0),
        "redact_10k_chars": (lambda: redact(pii, {"united"}), 3.0),
        "spam_1mb": (lambda: spam_signals(spam), 3.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = {}
    for name, (fn, limit) in cases().items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        median = statistics.median(times)
        out[name] = {
            "median_s": round(median, 4),
            "former_limit_s": limit,
            "within": median < limit,
        }
    if args.json:
        print(json.dumps(out))
        return
    for name, row in out.items():
        print(
            f"{name:20} median {row['median_s']:8.3f} s  (former limit {row['former_limit_s']} s)"
        )


if __name__ == "__main__":
    main()
