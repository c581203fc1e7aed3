"""The extract wing: raw partitions into mentions partitions.

It owns which partitions are stale for the current model and taxonomy (`stage`), the cleaning
and brand/target linking of each post and what the engine reads (`reading`), the engine call
and the mapping of mentions to categories and touchpoints (`partition`), and fitting a pack's
category head on the lake's posts (`taxonomy_fit`). The models themselves are `opinion.nlp`.
"""

from opinion.extract.stage import ExtractReport, extract, extract_partitions, load_engine

__all__ = ["ExtractReport", "extract", "extract_partitions", "load_engine"]
