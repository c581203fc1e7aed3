"""The collect wing: source records into the lake's raw partitions.

It owns running configured jobs and connectors (`jobs`: cursors, pages, backfill windows),
the privacy gate every record passes before anything is written (`gate`), and merging the
posts into source × day raw partitions with the collect quality guard (`partitions`).
Connectors (`opinion.sources`) are its engines and never import it.
"""

from opinion.collect.partitions import (
    CollectQualityError,
    CollectReport,
    collect_file,
    collect_records,
)

__all__ = ["CollectQualityError", "CollectReport", "collect_file", "collect_records"]
