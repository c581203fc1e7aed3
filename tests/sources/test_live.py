"""Manual smoke test against the real Hacker News search API (opt-in: pytest --live)."""

from __future__ import annotations

import pytest

from opinion.collect.jobs import collect_source
from opinion.sources.registry import build_source


@pytest.mark.live
def test_hackernews_live_smoke(settings):
    source = build_source("hackernews", query="airline", page_size=20, max_pages=1)
    with source:
        report = collect_source(settings, source, limit=20)
    assert report["read"] > 0 and report["rejected"] == 0
