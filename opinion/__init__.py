"""opinion: open, SQL-first social-media opinion mining for customer-experience intelligence.

Kept import-light on purpose: Airflow parses DAG files that import this package, so nothing
heavy (torch, transformers, spacy, duckdb) is imported here.
"""

__version__ = "0.1.0"
