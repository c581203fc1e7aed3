"""What the lake holds: partition kinds, Parquet schemas, metadata keys and names.

Pure definitions and validation (no I/O): the `Lake` (`opinion.lake.store`) writes and reads
files of these shapes.
"""

from __future__ import annotations

import re
from datetime import date

import pyarrow as pa

KINDS = ("raw", "mentions")
REJECT_RECORD_MAX_BYTES = 10 * 1024

META_MODEL_VERSION = "opinion.model_version"
META_TAXONOMY_VERSION = "opinion.taxonomy_version"
META_INPUT_FINGERPRINT = "opinion.input_fingerprint"
META_ROW_COUNT = "opinion.row_count"
META_WRITE_ID = "opinion.write_id"

_TS = pa.timestamp("us", tz="UTC")

RAW_POSTS_SCHEMA = pa.schema(
    [
        ("post_id", pa.string()),
        ("source", pa.string()),
        ("native_id", pa.string()),
        ("url", pa.string()),
        ("author_hash", pa.string()),
        ("brand", pa.string()),
        ("created_at", _TS),
        ("text", pa.string()),
        ("rating", pa.int8()),
        ("language", pa.string()),
        ("raw", pa.string()),
        ("collected_at", _TS),
        ("title", pa.string()),
        ("recommended", pa.bool_()),
        ("rating_value", pa.float64()),
        ("rating_scale", pa.string()),
        ("rating_norm", pa.float64()),
        ("cabin", pa.string()),  # review attributes (issue 26)
        ("traveller_type", pa.string()),
        ("route", pa.string()),
        ("verified", pa.bool_()),
    ]
)

MENTION_POSTS_SCHEMA = pa.schema(
    list(RAW_POSTS_SCHEMA)
    + [
        ("is_english", pa.bool_()),
        ("text_hash", pa.string()),
        ("minhash_bands", pa.list_(pa.string())),
        ("spam_score", pa.float32()),
        ("spam_reasons", pa.string()),
        ("sentiment", pa.string()),
        ("sentiment_confidence", pa.float32()),
        ("model_version", pa.string()),
        ("extracted_at", _TS),
        # the post's root cause (opinion.nlp.rootcause): one touchpoint and category
        ("primary_touchpoint", pa.string()),
        ("primary_category", pa.string()),
        ("primary_confidence", pa.float32()),
    ]
)

MENTIONS_SCHEMA = pa.schema(
    [
        ("mention_id", pa.string()),
        ("post_id", pa.string()),
        ("term", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("aspect", pa.string()),
        ("polarity", pa.string()),
        ("confidence", pa.float32()),
        ("model_version", pa.string()),
        ("category", pa.string()),
        ("touchpoint", pa.string()),
        ("cx_domain", pa.string()),
        ("taxonomy_version", pa.string()),
        ("in_title", pa.bool_()),
        ("implicit", pa.bool_()),  # category head, no span (opinion.nlp.categories)
    ]
)

#: Columns added after lakes already existed (reviews): a file written before them reads as
#: all-null in these columns instead of failing `conform`.
OPTIONAL_COLUMNS = frozenset(
    {"title", "recommended", "rating_value", "rating_scale", "rating_norm", "in_title"}
    | {"cabin", "traveller_type", "route", "verified"}
    | {"primary_touchpoint", "primary_category", "primary_confidence"}
)

REJECTS_SCHEMA = pa.schema(
    [
        ("record", pa.string()),
        ("stage", pa.string()),
        ("source", pa.string()),
        ("reason", pa.string()),
        ("rejected_at", _TS),
    ]
)

#: Which files a partition of each kind holds, and their schemas.
PARTITION_TABLES: dict[str, dict[str, pa.Schema]] = {
    "raw": {"posts": RAW_POSTS_SCHEMA},
    "mentions": {"posts": MENTION_POSTS_SCHEMA, "mentions": MENTIONS_SCHEMA},
}

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-\d{2}$")

#: Partition grain (docs/warehouse.md, "Partition grain"): a (source, month) that a collect run
#: fills thinly (at least SPARSE_MIN_DAYS distinct days, fewer than SPARSE_POSTS_PER_DAY posts
#: per day on average) is stored as ONE `month=YYYY-MM` partition instead of one per day, so a
#: sparse source (reviews over 14 years) does not pay a fixed cost per day in every stage.
SPARSE_MIN_DAYS = 2
SPARSE_POSTS_PER_DAY = 20


def check_name(what: str, value: str) -> str:
    value = str(value)
    if not SAFE_NAME.match(value) or ".." in value:
        raise ValueError(f"{what} must be a safe path component ([A-Za-z0-9_.-]), got {value!r}")
    return value


def check_day(day: str | date) -> str:
    """A partition key: a day YYYY-MM-DD or a month YYYY-MM (validated)."""
    text = day.isoformat() if isinstance(day, date) else str(day)
    if MONTH.match(text):
        date.fromisoformat(text + "-01")  # raises on 2015-13
        return text
    if not DAY.match(text):
        raise ValueError(f"day must be YYYY-MM-DD (or a month YYYY-MM), got {day!r}")
    date.fromisoformat(text)  # raises on 2015-02-30
    return text


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder and cast `table` to `schema`; extra columns are kept after the known ones."""
    for f in schema:
        if f.name in OPTIONAL_COLUMNS and f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise ValueError(f"table lacks columns {missing}")
    extra = [n for n in table.column_names if n not in schema.names]
    target = pa.schema(list(schema) + [table.schema.field(n) for n in extra])
    return table.select(target.names).cast(target)
