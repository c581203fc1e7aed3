"""UI FIXTURE — a small warehouse for the dashboard tests, built without the ML models.

Posts are a real slice of the bundled demo corpus (text, brand, time, tweet URL). The mentions
are MADE UP for the UI only: aspects are the airline taxonomy pack's seed terms found in the
text (`Taxonomy.term_spans`, so categories and touchpoints are the real ones), and polarity
is VADER on the whole tweet. The numbers are plausible, not model output; never use this
warehouse to judge the NLP.

Schema and aggregates are the real ones: `opinion.warehouse.connect` applies the migrations
and `opinion.warehouse.aggregates.rebuild` fills `agg_daily`, `issue_windows`, ...
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from opinion.records import post_id_for, stable_id

REPO = Path(__file__).resolve().parents[2]
DEMO_CSV = REPO / "data" / "demo" / "airline_tweets.csv"
TAXONOMY = REPO / "data" / "taxonomies" / "airline.yaml"
BRANDS = REPO / "data" / "brands" / "airlines.yaml"
SOURCE = "airline_tweets"
URL = "https://twitter.com/i/web/status/{}"
HOSTILE_TEXT = '<script>window.__xss = "x"</script> my bag was <b>lost</b> & nobody cared'
FORMULA_TEXT = '=2+5*cmd|" /C calc"!A0 my bag was lost, awful'
POST_COLUMNS = (
    "post_id", "source", "native_id", "url", "author_hash", "brand", "created_at", "text",
    "language", "raw", "collected_at", "is_english", "text_hash", "sentiment",
    "sentiment_confidence", "model_version", "extracted_at", "lake_partition", "loaded_at",
)  # fmt: skip
MENTION_COLUMNS = (
    "mention_id", "post_id", "term", "start", "end", "aspect", "polarity", "confidence",
    "model_version", "category", "touchpoint", "cx_domain", "taxonomy_version", "loaded_at",
)  # fmt: skip


def _created(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)


def _polarity(analyzer, text: str) -> str:
    score = analyzer.polarity_scores(text)["compound"]
    return "positive" if score >= 0.25 else "negative" if score <= -0.25 else "neutral"


def read_rows(rows: int | None, step: int = 1) -> list[dict]:
    """Every `step`-th row of the demo corpus, at most `rows` of them (the CSV is sorted by
    airline, so a step spreads the slice over all brands)."""
    out = []
    with DEMO_CSV.open(newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if rows is not None and len(out) >= rows:
                break
            if i % step == 0:
                out.append(row)
    return out


def synthetic_rows() -> list[dict]:
    """SYNTHETIC posts added to the slice: one hostile text (the pages must escape it), one
    spreadsheet formula (the CSV export must neutralise it) and a
    burst of negative United baggage posts in the last day, so an emerging issue is flagged."""
    rows = [{"tweet_id": "999000000000000001", "airline": "United", "text": HOSTILE_TEXT,
             "tweet_created": "2015-02-23 10:00:00 -0800"},
            {"tweet_id": "999000000000000002", "airline": "United", "text": FORMULA_TEXT,
             "tweet_created": "2015-02-23 11:00:00 -0800"}]  # fmt: skip
    for i in range(14):
        rows.append(
            {
                "tweet_id": f"9990000000000001{i:02d}",
                "airline": "United",
                "text": f"@united lost my bag again, terrible and awful service #{i}",
                "tweet_created": f"2015-02-24 0{i % 9}:{10 + i}:00 -0800",
            }
        )
    return rows


def build_ui_warehouse(
    path: Path, rows: int | None = 1200, step: int = 12, min_mentions: int = 10
) -> Path:
    """Write a UI-fixture warehouse to `path` (replacing it atomically) and return `path`.
    `rows=None, step=1` takes the whole corpus without synthetic posts (timing runs)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from opinion.clean.brands import BrandList
    from opinion.nlp.taxonomy import load_taxonomy
    from opinion.warehouse import connect
    from opinion.warehouse.aggregates import RebuildParams, rebuild

    analyzer = SentimentIntensityAnalyzer()
    tax = load_taxonomy(TAXONOMY)
    now = datetime(2015, 3, 1, tzinfo=UTC)
    posts, mentions = [], []
    records = read_rows(rows, step)
    if rows is not None:
        records += synthetic_rows()
    seen: set[str] = set()
    for row in records:
        text, native = row["text"], row["tweet_id"]
        if native in seen:
            continue
        seen.add(native)
        pid = post_id_for(SOURCE, native)
        pol = _polarity(analyzer, text)
        posts.append(
            (
                pid,
                SOURCE,
                native,
                URL.format(native),
                stable_id("author", native),
                row["airline"],
                _created(row["tweet_created"]),
                text,
                "en",
                json.dumps({"tweet_id": native, "retweet_count": row.get("retweet_count")}),
                now,
                True,
                stable_id("text", text),
                pol,
                0.9,
                "ui-fixture",
                now,
                f"mentions/source={SOURCE}/day=x",
                now,
            )
        )
        for start_, end_ in tax.term_spans(text):
            term = text[start_:end_]
            cat = tax.category(tax.lookup(term) or "other")
            mentions.append(
                (
                    stable_id(pid, start_, end_), pid, term, start_, end_, term.lower(), pol,
                    0.8, "ui-fixture", cat.name, cat.touchpoint, cat.cx_domain, tax.version, now,
                )
            )  # fmt: skip
    tmp = path.with_name(path.name + ".building")
    tmp.unlink(missing_ok=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    con = connect(tmp)
    try:
        for table, columns, values in (
            ("posts", POST_COLUMNS, posts),
            ("mentions", MENTION_COLUMNS, mentions),
        ):
            arrow = pa.Table.from_pylist([dict(zip(columns, v, strict=True)) for v in values])
            con.register("_rows", arrow)
            cols = ", ".join(f'"{c}"' for c in columns)
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _rows")
            con.unregister("_rows")
        brands = BrandList.load(BRANDS)
        competitors = {b.name: list(b.competitors) for b in brands}
        rebuild(con, RebuildParams(min_mentions=min_mentions, competitors=competitors))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    return path
