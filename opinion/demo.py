"""`opinion demo`: the whole pipeline on the bundled airline corpus, with a summary per brand.

Orchestration only: collect (files source) → extract → load, then one read-only query on the
published warehouse. Re-running it changes no row count (every stage is idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from opinion.config import Settings

DEMO_SOURCE = "airline_tweets"


def demo_corpus(settings: Settings | None = None) -> Path:
    settings = settings or Settings.from_env()
    path = settings.data_dir / "demo" / "airline_tweets.csv"
    if not path.exists():
        raise FileNotFoundError(f"demo corpus not found: {path}")
    return path


def first_rows(path: Path, out: Path, limit: int) -> Path:
    """The header and first `limit` data rows of a CSV, written to `out`."""
    import csv

    out.parent.mkdir(parents=True, exist_ok=True)
    with path.open(newline="", encoding="utf-8") as src, out.open("w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        for i, row in enumerate(reader):
            if i > limit:
                break
            writer.writerow(row)
    return out


def _sliced(path: Path, limit: int, settings: Settings) -> Path:
    """The first `limit` data rows of a CSV, written beside the lake (quick demo runs)."""
    return first_rows(path, settings.state_dir / f"demo_first_{limit}.csv", limit)


def run_demo(
    settings: Settings,
    corpus: Path | None = None,
    limit: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict:
    from opinion.collect.partitions import collect_file
    from opinion.extract.stage import extract
    from opinion.sources.files import AIRLINE_TWEETS, TWEET_URL, FileSourceConfig
    from opinion.warehouse.load import run_load as load

    corpus = corpus or demo_corpus(settings)
    if limit:
        corpus = _sliced(corpus, limit, settings)
    timings = {}
    t = time.time()
    cfg = FileSourceConfig(corpus, DEMO_SOURCE, AIRLINE_TWEETS, TWEET_URL)
    collected = collect_file(settings, cfg)
    _save_file_cursor(settings, corpus)
    timings["collect"] = time.time() - t
    echo(
        f"collect: {collected.read} records = {collected.posts} posts + "
        f"{collected.rejected} rejected + {collected.duplicates} duplicate ids "
        f"({collected.partitions_written} partitions written, "
        f"{collected.partitions_unchanged} unchanged)"
    )
    if collected.read != collected.posts + collected.rejected + collected.duplicates:
        raise RuntimeError("collect counts do not reconcile: records were lost")
    t = time.time()
    extracted = extract(settings)
    timings["extract"] = time.time() - t
    echo(
        f"extract: {extracted.partitions} partitions, {extracted.posts} posts, "
        f"{extracted.mentions} mentions, model {extracted.model_version}"
    )
    t = time.time()
    loaded = load(settings)
    timings["load"] = time.time() - t
    echo(f"load: {_load_line(loaded)} → {settings.warehouse}")
    summary = brand_summary(settings)
    echo("")
    echo(format_summary(summary))
    echo("")
    echo("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return {"collect": collected, "extract": extracted, "load": loaded, "summary": summary}


def _save_file_cursor(settings: Settings, corpus: Path) -> None:
    """Record the file's fingerprint as the files connector would, so `opinion demo` and the
    Airflow collect DAG leave identical `source_state` rows."""
    from opinion.sources.localfiles import fingerprint, run_key_for
    from opinion.sources.state import write_cursor

    write_cursor(settings.lake_dir, DEMO_SOURCE, run_key_for(corpus), fingerprint(corpus))


def _load_line(report) -> str:
    warnings = [c.name for c in report.checks if not c.passed]
    checks = (
        f"{len(report.checks)} checks passed"
        if not warnings
        else (f"checks with warnings: {', '.join(warnings)}")
    )
    return (
        f"{len(report.partitions_loaded)} partitions loaded, "
        f"{report.partitions_skipped} unchanged; {report.posts_loaded} posts, "
        f"{report.mentions_loaded} mentions, {report.rejects_loaded} rejects; {checks}"
    )


SUMMARY_SQL = """
WITH p AS (
    SELECT brand, count(*) AS posts
    FROM posts WHERE brand IS NOT NULL AND dup_of IS NULL GROUP BY brand
), net AS (  -- net sentiment per aspect mention, as on the dashboard (insights/stats.py)
    SELECT brand, net_sentiment(count(*) FILTER (WHERE polarity = 'positive'),
                                count(*) FILTER (WHERE polarity = 'negative'),
                                count(*)) AS net_sentiment
    FROM v_verbatims GROUP BY brand
), m AS (
    SELECT p.brand, m.aspect, m.polarity, count(*) AS n
    FROM mentions m JOIN posts p USING (post_id)
    WHERE p.brand IS NOT NULL AND p.dup_of IS NULL GROUP BY ALL
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY brand, polarity ORDER BY n DESC, aspect) AS r
    FROM m WHERE polarity IN ('positive', 'negative') AND aspect IS NOT NULL  -- not implicit
)
SELECT p.brand, p.posts, coalesce((SELECT sum(n) FROM m WHERE m.brand = p.brand), 0),
       round((SELECT net_sentiment FROM net WHERE net.brand = p.brand), 1),
       (SELECT string_agg(aspect || ' (' || n || ')', ', ' ORDER BY r) FROM ranked
         WHERE ranked.brand = p.brand AND polarity = 'positive' AND r <= 3),
       (SELECT string_agg(aspect || ' (' || n || ')', ', ' ORDER BY r) FROM ranked
         WHERE ranked.brand = p.brand AND polarity = 'negative' AND r <= 3)
FROM p ORDER BY p.posts DESC
"""


def brand_summary(settings: Settings) -> list[dict]:
    """Per brand: posts, mentions, net sentiment, top positive and negative aspects."""
    import duckdb

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(SUMMARY_SQL).fetchall()
    keys = ("brand", "posts", "mentions", "net_sentiment", "top_positive", "top_negative")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def format_summary(rows: list[dict]) -> str:
    head = f"{'brand':<16}{'posts':>7}{'mentions':>10}{'net':>8}  top aspects"
    lines = [head, "-" * len(head)]
    for r in rows:
        net = "n/a" if r["net_sentiment"] is None else f"{r['net_sentiment']:+.1f}"
        lines.append(
            f"{r['brand']:<16}{r['posts']:>7}{r['mentions']:>10}{net:>8}  "
            f"+ {r['top_positive'] or '-'}"
        )
        lines.append(f"{'':<41}  - {r['top_negative'] or '-'}")
    lines.append("net = net sentiment per aspect mention, 100 × (pos − neg) / mentions (dashboard)")
    return "\n".join(lines)
