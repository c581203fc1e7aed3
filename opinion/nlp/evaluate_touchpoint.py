"""`opinion eval FILE --task touchpoint`: is each post attributed to the right touchpoint?

A labelled file (CSV, JSON Lines or Parquet) has a text column and a label column; a label is
a touchpoint or a category of the pack (a category counts as its touchpoint), several
separated by `|` or `;` (a post about a delay *and* the phone queue is right either way).
Each post's **dominant touchpoint** is the one carrying most of its mentions that share the
post's sentiment (most of a complaint's negative mentions), explicit and implicit alike,
ties broken by summed confidence, then by first appearance; `other` when it has none.
Each post's **primary touchpoint** is the root cause the pack's root-cause head reads
(`opinion.nlp.rootcause`; the dominant touchpoint when the pack has no fitted head): the
figure scored first, with the dominant touchpoint's beside it.
Scores: accuracy (among the gold labels), per-touchpoint precision and recall, and the
confusion matrix (gold → predicted; the gold of a right answer is that answer, of a wrong
one its first label).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from opinion.nlp.rootcause import OTHER, dominant_touchpoint

__all__ = ["dominant_touchpoint", "evaluate_touchpoints", "read_labelled", "score"]
_SPLIT = re.compile(r"\s*[|;]\s*")


def read_labelled(path: str | Path, text_col: str = "text", label_col: str = "touchpoint"):
    """[(text, [labels])] from a CSV / JSONL / Parquet file; a one-line ValueError when the
    file cannot be read, lacks a column or holds no labelled row."""
    import pyarrow as pa

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix.startswith(".parquet"):
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        elif suffix.startswith((".jsonl", ".json", ".ndjson")):
            import pyarrow.json as pj

            table = pj.read_json(path)
        elif suffix.startswith((".csv", ".tsv")):
            import pyarrow.csv as pc

            delimiter = "\t" if suffix.startswith(".tsv") else ","
            table = pc.read_csv(
                path,
                parse_options=pc.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pc.ConvertOptions(strings_can_be_null=False),
            )
        else:
            raise ValueError(f"{path}: unknown file type {path.suffix!r} (csv, jsonl, parquet)")
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: cannot read it: {first}") from None
    for col in (text_col, label_col):
        if col not in table.column_names:
            raise ValueError(
                f"{path}: no column {col!r} (columns: {', '.join(table.column_names)})"
            )
    rows = []
    for text, label in zip(
        table.column(text_col).to_pylist(), table.column(label_col).to_pylist(), strict=True
    ):
        labels = [x for x in _SPLIT.split(str(label or "").strip().lower()) if x]
        if isinstance(text, str) and text.strip() and labels:
            rows.append((text, labels))
    if not rows:
        raise ValueError(f"{path}: no row with both a text and a label")
    return rows


def gold_touchpoints(labels: list[str], taxonomy) -> set[str]:
    """Touchpoints of a row's labels (a category label counts as its touchpoint)."""
    out = set()
    for label in labels:
        key = label.replace(" ", "_").replace("-", "_")
        if key in taxonomy.touchpoints or key == OTHER:
            out.add(key)
        elif taxonomy.resolve(key) in taxonomy.categories:
            out.add(taxonomy.categories[taxonomy.resolve(key)].touchpoint)
        else:
            known = ", ".join(sorted(taxonomy.touchpoints))
            raise ValueError(f"unknown label {label!r}: not a touchpoint ({known}) nor a category")
    return out


def post_mentions(texts: list[str], engine, mapper, chunk: int = 256, taxonomy=None) -> list:
    """(sentiment, mapped mention dicts incl. implicit ones, primary (touchpoint, category,
    confidence) or None) per text, as extraction makes them
    (`opinion.extract.partition.extract_partition`); the primary needs `taxonomy`."""
    from opinion.nlp.categories import implicit_mentions
    from opinion.nlp.rootcause import load_root_head, primaries, settle_posts

    root = load_root_head(taxonomy) if taxonomy is not None else None
    out = []
    for c in range(0, len(texts), chunk):
        part = texts[c : c + chunk]
        results = engine.analyze(part)
        mentions = [
            {
                "post_id": str(c + i),
                "term": a.term,
                "aspect": a.aspect,
                "polarity": a.polarity,
                "confidence": a.confidence,
            }
            for i, res in enumerate(results)
            for a in (res.aspects if not res.error else [])
        ]
        mapper(mentions)
        if taxonomy is not None:
            sentiment_of = {str(c + i): res.sentiment for i, res in enumerate(results)}
            settle_posts(mentions, sentiment_of, taxonomy)
        pairs = [(str(c + i), res) for i, res in enumerate(results)]
        implicit = implicit_mentions(pairs, mentions, engine.version)
        mapper(implicit)
        by_post: dict[str, list[dict]] = defaultdict(list)
        for m in mentions + implicit:
            by_post[m["post_id"]].append(m)
        read = [(pid, text, res) for (pid, res), text in zip(pairs, part, strict=True)]
        found = primaries(read, mentions + implicit, taxonomy, root) if taxonomy else {}
        out += [
            (res.sentiment, by_post[str(c + i)], found.get(str(c + i)))
            for i, res in enumerate(results)
        ]
    return out


def score(gold: list[set[str]], predicted: list[str]) -> dict:
    """Accuracy, per-touchpoint precision/recall/support and the confusion matrix."""
    single = [p if p in g else sorted(g)[0] for g, p in zip(gold, predicted, strict=True)]
    labels = sorted(set(single) | set(predicted))
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(single, predicted, strict=True):
        confusion[g][p] += 1
    per = {}
    for tp in labels:
        tp_hits = confusion[tp][tp]
        pred_n = sum(confusion[g][tp] for g in labels)
        gold_n = sum(confusion[tp].values())
        per[tp] = {
            "precision": round(tp_hits / pred_n, 4) if pred_n else 0.0,
            "recall": round(tp_hits / gold_n, 4) if gold_n else 0.0,
            "support": gold_n,
        }
    hits = sum(p in g for g, p in zip(gold, predicted, strict=True))
    return {
        "n": len(gold),
        "accuracy": round(hits / len(gold), 4) if gold else 0.0,
        "per_touchpoint": per,
        "confusion": confusion,
    }


def evaluate_touchpoints(rows: list[tuple[str, list[str]]], engine, mapper, taxonomy) -> dict:
    """Score the primary touchpoint (root-cause head) and, beside it, the mention-based
    dominant touchpoint of the engine + taxonomy (+ category head) on labelled rows."""
    from opinion.nlp.rootcause import load_root_head

    gold = [gold_touchpoints(labels, taxonomy) for _, labels in rows]
    read = post_mentions([text for text, _ in rows], engine, mapper, taxonomy=taxonomy)
    primary = [p[0] if p and p[0] else OTHER for *_, p in read]
    dominant = [dominant_touchpoint(mentions, sentiment) for sentiment, mentions, _ in read]
    implicit = sum(any(m.get("implicit") for m in mentions) for _, mentions, _ in read)
    mentions_score = score(gold, dominant)
    return {
        "task": "touchpoint",
        **score(gold, primary),
        "primary_from": "root-cause head" if load_root_head(taxonomy) else "mentions",
        "mentions": {"accuracy": mentions_score["accuracy"], "scores": mentions_score},
        "posts_with_implicit": implicit,
        "taxonomy_version": taxonomy.version,
        "model_version": engine.version,
    }


def format_report(result: dict) -> list[str]:
    """Human-readable lines: accuracy (primary, then mention-based), per-touchpoint table of
    the primary touchpoint, confusion matrix."""
    lines = [
        f"{result['n']} posts, primary touchpoint accuracy {result['accuracy']:.4f} "
        f"({result['primary_from']}); dominant touchpoint by mentions "
        f"{result['mentions']['accuracy']:.4f} ({result['posts_with_implicit']} with implicit "
        f"mentions; taxonomy {result['taxonomy_version']})",
        f"{'touchpoint':<18}{'precision':>10}{'recall':>8}{'support':>9}",
    ]
    for tp, m in result["per_touchpoint"].items():
        lines.append(f"{tp:<18}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['support']:>9}")
    labels = list(result["confusion"])
    short = [tp[:6] for tp in labels]
    lines.append("confusion (rows gold, columns predicted): " + " ".join(short))
    for tp in labels:
        lines.append(f"{tp:<18}" + " ".join(f"{result['confusion'][tp][p]:>6}" for p in labels))
    return lines
