"""Fixtures for the Airflow tests (helpers live in af_helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from af_helpers import REPO, SLICE_ROWS, write_demo_slice


@pytest.fixture()
def demo_slice_data(tmp_path) -> Path:
    """An OPINION_DATA folder: a 150-row slice of the demo corpus, the brand list, the models."""
    data = tmp_path / "data"
    (data / "demo").mkdir(parents=True)
    (data / "brands").mkdir()
    write_demo_slice(data / "demo" / "airline_tweets.csv", SLICE_ROWS)
    shutil.copy(REPO / "data" / "brands" / "airlines.yaml", data / "brands" / "airlines.yaml")
    (data / "models").symlink_to(REPO / "data" / "models", target_is_directory=True)
    # the only collect job: the slice, under the demo's source name (opinion.yaml format of
    # opinion/sources/config.py); OPINION_DATA=data also makes the pipeline's demo fallback
    # (no opinion.sources.config) read the same slice
    (tmp_path / "opinion.yaml").write_text(
        "version: 1\n"
        "jobs:\n"
        "  - name: airline_tweets\n"
        "    source: files\n"
        "    options:\n"
        '      path: "{data_dir}/demo/airline_tweets.csv"\n'
        "      name: airline_tweets\n"
        "      mapping: AIRLINE_TWEETS\n"
        "      url_template: TWEET_URL\n"
    )
    return data
