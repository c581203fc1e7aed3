"""Local exports (CSV, JSON Lines, Parquet) as a `Source`: `opinion.sources.files.read_file`
behind the same contract as the API connectors.

Options: `path` (required), `mapping` ({field: column}; or a preset name: `AIRLINE_TWEETS`,
`AIRLINE_REVIEWS`), `url_template` (or the preset `TWEET_URL`), `format`, `name` (default
`files`), `rating_scale` (the scale of the `rating` column: `1-5` (default), `1-10`, `0-10`).
`authoritative` (default false): the file is the source's whole truth, so posts of `name` that
a changed file no longer holds are retracted from the lake (and, after extract and load, from
the warehouse). Without it a re-read file only adds and updates posts.

Cursor: the file's fingerprint (`sha256:<hex of its bytes>`) plus a digest of how it is read
(`;read:<hex>` over the mapping, url template, format, brand, name and `READER_VERSION`). An
unchanged file read the same way yields no page at all; a changed file, or the same file with
a fixed mapping (or a reader that learnt BOM/gzip), is read again in full (posts merge by id,
so only what changed is rewritten). The rejects file key is
`file-<sha1(resolved path)[:12]>`, the same key `opinion.collect.partitions.collect_file` uses, so
collecting a file either way gives the same lake.

Config example (the demo job)::

    - name: airline_tweets
      source: files
      options:
        path: "{data_dir}/demo/airline_tweets.csv"
        name: airline_tweets
        mapping: AIRLINE_TWEETS
        url_template: TWEET_URL
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from opinion.records import RawRecord
from opinion.sources.base import Page, Source, SourceConfig
from opinion.sources.files import (
    AIRLINE_REVIEWS,
    AIRLINE_TWEETS,
    TWEET_URL,
    FileSourceConfig,
    read_file,
)

MAPPINGS = {"AIRLINE_TWEETS": AIRLINE_TWEETS, "AIRLINE_REVIEWS": AIRLINE_REVIEWS}
URL_TEMPLATES = {"TWEET_URL": TWEET_URL}


@dataclass(frozen=True)
class FilesConfig(SourceConfig):
    connector = "files"

    path: str = ""
    mapping: dict = field(default_factory=dict)
    url_template: str | None = None
    format: str | None = None
    rating_scale: str | None = None
    authoritative: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.path:
            self._bad("path", self.path, "the files source needs a path")
        mapping = self.mapping
        if isinstance(mapping, str):
            if mapping not in MAPPINGS:
                self._bad("mapping", mapping, f"unknown preset (known: {', '.join(MAPPINGS)})")
            mapping = MAPPINGS[mapping]
        if not isinstance(mapping, dict):
            self._bad("mapping", mapping, "must be a {field: column} object or a preset name")
        object.__setattr__(self, "mapping", dict(mapping))
        template = URL_TEMPLATES.get(self.url_template or "", self.url_template)
        object.__setattr__(self, "url_template", template)
        try:
            self.file_config()
        except ValueError as exc:
            msg = str(exc)
            if "scale" in msg:
                self._bad("rating_scale", self.rating_scale, msg)
            self._bad("mapping" if "mapping" in msg else "format", self.mapping, msg)

    def file_config(self) -> FileSourceConfig:
        return FileSourceConfig(
            Path(self.path),
            self.name,
            dict(self.mapping),
            self.url_template,
            self.format,
            self.rating_scale,
        )


def run_key_for(path: Path) -> str:
    """The rejects key `opinion.collect.partitions.collect_file` uses for this file."""
    return "file-" + hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:12]


#: Bump when the file reader changes what it can read (BOM, gzip, date32 ...), so files
#: whose rows it used to reject are read again.
READER_VERSION = "2"


def read_options_digest(config: FilesConfig) -> str:
    """Digest of everything besides the bytes that decides which posts a file yields."""
    import json

    options = {
        "mapping": config.mapping,
        "url_template": config.url_template,
        "format": config.format,
        "brand": config.brand,
        "name": config.name,
        "reader": READER_VERSION,
    }
    blob = json.dumps(options, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class FilesSource(Source):
    config: FilesConfig

    def __init__(self, config: FilesConfig, client=None) -> None:
        self.config = config
        self.client = client

    @property
    def key(self) -> str:
        return run_key_for(Path(self.config.path))

    def pages(self, cursor: str | None) -> Iterator[Page]:
        cfg = self.config.file_config()
        if not cfg.path.exists():
            raise FileNotFoundError(f"input file not found: {cfg.path}")
        current = f"{fingerprint(cfg.path)};read:{read_options_digest(self.config)}"
        if cursor == current:
            return
        records = list(read_file(cfg))
        if self.config.brand:
            for rec in records:
                if isinstance(rec, RawRecord) and rec.brand is None:
                    rec.brand = self.config.brand
        yield Page(records, current, str(cfg.path), run_key=self.key)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
