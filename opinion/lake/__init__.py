"""The Parquet lake: immutable-by-replacement partitions that every stage reads and writes.

Layout under `Settings.lake_dir` (one partition per kind x source x UTC day, or x UTC month
`month=YYYY-MM` for a month that a source fills thinly: `period_keys`)::

    raw/source={source}/day={YYYY-MM-DD}/posts.parquet        written by collect
    mentions/source={source}/day={YYYY-MM-DD}/posts.parquet   written by extract (raw columns
    mentions/source={source}/day={YYYY-MM-DD}/mentions.parquet   + NLP columns), one row per
                                                                 post / per aspect mention
    rejects/stage={stage}/source={source}/{key}.parquet       rows a stage refused, with why

Every read, write, listing, fingerprint and lock goes through one `Lake` object (`store`),
which holds the root and decides once whether it is local or on object storage (`storage`).

Rules every writer follows (and `Lake` enforces):

* A write replaces the whole partition (or rejects file): files are written as `*.tmp` in the
  same directory, fsynced, then replaced atomically (`Lake.replace`), so a reader sees the old
  file or the new one, never half a file. Re-running a stage therefore replaces its output
  instead of appending.
* Every Parquet file carries key/value metadata: `opinion.row_count`, `opinion.write_id` (the
  same for all files of one `write_partition` call, so a reader can tell it did not catch a
  partition between two file swaps), `opinion.input_fingerprint` (fingerprint of the input the
  partition was derived from; extract stores the raw posts file's fingerprint so a changed
  raw partition is seen as stale) and, on mentions partitions, `opinion.model_version`.
* Column sets are fixed by the `*_SCHEMA` constants (`schemas`); `write_partition` casts to them and
  refuses a table that lacks a column. Extra columns are kept (appended after the known ones).

See docs/warehouse.md for column meanings and how the warehouse loads these files.
"""

from opinion.lake.schemas import (
    KINDS,
    MENTION_POSTS_SCHEMA,
    MENTIONS_SCHEMA,
    META_INPUT_FINGERPRINT,
    META_MODEL_VERSION,
    META_ROW_COUNT,
    META_TAXONOMY_VERSION,
    META_WRITE_ID,
    OPTIONAL_COLUMNS,
    PARTITION_TABLES,
    RAW_POSTS_SCHEMA,
    REJECT_RECORD_MAX_BYTES,
    REJECTS_SCHEMA,
    SPARSE_MIN_DAYS,
    SPARSE_POSTS_PER_DAY,
    conform,
)
from opinion.lake.store import Lake, Partition, RejectFile

__all__ = [
    "KINDS",
    "MENTIONS_SCHEMA",
    "MENTION_POSTS_SCHEMA",
    "META_INPUT_FINGERPRINT",
    "META_MODEL_VERSION",
    "META_ROW_COUNT",
    "META_TAXONOMY_VERSION",
    "META_WRITE_ID",
    "OPTIONAL_COLUMNS",
    "PARTITION_TABLES",
    "RAW_POSTS_SCHEMA",
    "REJECT_RECORD_MAX_BYTES",
    "REJECTS_SCHEMA",
    "SPARSE_MIN_DAYS",
    "SPARSE_POSTS_PER_DAY",
    "Lake",
    "Partition",
    "RejectFile",
    "conform",
]
