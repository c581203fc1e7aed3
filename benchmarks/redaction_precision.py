"""Over-redaction precision: of the spans collect redacted in the demo corpus, how many were
personal data (issue #28's bar: >= 90% of a 200-span sample).

    head -3001 data/demo/airline_tweets.csv > /tmp/slice.csv
    OPINION_AUTHOR_SALT=x python -m opinion collect airline-demo --path /tmp/slice.csv \
        --lake /tmp/lake
    python benchmarks/redaction_precision.py --lake /tmp/lake --source /tmp/slice.csv [--json]
        [--write-sample FILE]

Every placeholder in the lake's `text` (`[person]`, `@user`, `[phone]`, ...) is aligned with
the original tweet (joined by tweet id, normalised as collect normalises it) to recover what
it replaced. A seeded random sample of `--n` spans is drawn and each is looked up in the
hand-labelled file (`benchmarks/redaction_precision.csv`: `personal` is 1 when the span is
personal data — a person's name, a customer's handle, a contact detail or id — and 0 when it
is an organisation, place, product, code or common phrase). Precision is computed over the
labelled spans of the sample; spans nobody has judged yet are counted and listed
(`--write-sample` writes the sample with the known labels filled in, for judging).
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import random
import re
import sys
from pathlib import Path

LABELS = Path(__file__).with_name("redaction_precision.csv")
FIELDS = ["tweet_id", "start", "kind", "span", "context", "personal", "why"]


def _placeholder_re() -> re.Pattern[str]:
    from opinion.clean.privacy import PLACEHOLDERS

    words = sorted({*PLACEHOLDERS.values(), "[author]", "[number]"}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words) + r"|@user\b")


def lake_texts(lake: str) -> dict[str, str]:
    """tweet id -> redacted text of every raw post in a local lake."""
    import pyarrow.parquet as pq

    out = {}
    for path in sorted(glob.glob(f"{lake}/raw/**/*.parquet", recursive=True)):
        for row in pq.read_table(path, columns=["native_id", "text", "raw"]).to_pylist():
            raw = json.loads(row["raw"] or "{}")
            out[str(raw.get("tweet_id") or row["native_id"])] = row["text"] or ""
    return out


def source_texts(path: str) -> dict[str, str]:
    """tweet id -> original text, normalised and capped as collect does before redacting."""
    from opinion.clean.normalize import normalize_text
    from opinion.collect.gate import cap_text

    csv.field_size_limit(2**26)
    with open(path, encoding="utf-8", newline="") as f:
        return {r["tweet_id"]: cap_text(normalize_text(r["text"])) for r in csv.DictReader(f)}


def spans(original: str, redacted: str, marks: re.Pattern[str]) -> list[tuple[str, int, str]]:
    """(placeholder, start in original, original text) of each placeholder in `redacted`,
    found by matching `redacted` (placeholders as wildcards) against `original`."""
    parts, kinds, pos = [], [], 0
    for m in marks.finditer(redacted):
        parts.append(re.escape(redacted[pos : m.start()]))
        parts.append(r"(@\w+)" if m.group(0) == "@user" else r"(.+?)")
        kinds.append(m.group(0))
        pos = m.end()
    if not kinds:
        return []
    parts.append(re.escape(redacted[pos:]))
    match = re.fullmatch("".join(parts), original, flags=re.DOTALL)
    if match is None:
        return [(k, -1, "?") for k in kinds]
    return [(k, match.start(i + 1), match.group(i + 1)) for i, k in enumerate(kinds)]


def all_spans(lake: str, source: str) -> list[dict]:
    marks = _placeholder_re()
    originals = source_texts(source)
    out = []
    for tid, text in sorted(lake_texts(lake).items()):
        original = originals.get(tid, "")
        for kind, start, span in spans(original, text, marks):
            lo, hi = max(0, start - 50), start + len(span) + 50
            context = original[lo:start] + "⟦" + span + "⟧" + original[start + len(span) : hi]
            out.append(
                {"tweet_id": tid, "start": start, "kind": kind, "span": span, "context": context}
            )
    return out


def load_labels(path: Path) -> dict[tuple[str, int, str], dict]:
    if not path.exists():
        return {}
    with open(path, encoding="utf-8", newline="") as f:
        return {(r["tweet_id"], int(r["start"]), r["span"]): r for r in csv.DictReader(f)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", required=True)
    ap.add_argument("--source", required=True, help="the CSV the lake was collected from")
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--write-sample", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    found = all_spans(args.lake, args.source)
    sample = random.Random(args.seed).sample(found, min(args.n, len(found)))
    labels = load_labels(args.labels)
    judged, unjudged = [], []
    for s in sample:
        label = labels.get((s["tweet_id"], s["start"], s["span"]))
        s["personal"], s["why"] = (label["personal"], label["why"]) if label else ("", "")
        (judged if s["personal"] in ("0", "1") else unjudged).append(s)
    if args.write_sample:
        with open(args.write_sample, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(sorted(sample, key=lambda s: (s["kind"], s["tweet_id"])))
    by_kind: dict[str, int] = {}
    for s in found:
        by_kind[s["kind"]] = by_kind.get(s["kind"], 0) + 1
    personal = sum(s["personal"] == "1" for s in judged)
    report = {
        "redactions": len(found),
        "by_kind": by_kind,
        "unaligned": sum(s["start"] < 0 for s in found),
        "sample": len(sample),
        "judged": len(judged),
        "unjudged": len(unjudged),
        "personal": personal,
        "precision": round(personal / len(judged), 3) if judged else None,
        "not_personal": [s["context"] for s in judged if s["personal"] == "0"],
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for key, value in report.items():
            if key != "not_personal":
                print(f"{key}: {value}")
        for context in report["not_personal"]:
            print("  not personal:", context.replace("\n", " "))
    return 0 if not unjudged else 1


if __name__ == "__main__":
    sys.exit(main())
