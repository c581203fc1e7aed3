"""`opinion.yaml`: which sources to collect, for which brands and queries.

The file (repo root, or `OPINION_CONFIG`) holds a list of jobs::

    version: 1
    jobs:
      - name: mastodon_airlines      # unique, [A-Za-z0-9_.-]
        source: mastodon             # a connector name from opinion.sources.run.SOURCES
        enabled: true                # default true
        options: {base_url: "https://mastodon.social", timeline: tag}
        brands: [Delta, JetBlue]     # optional
        queries: [delta, jetblue]    # optional; one source (and one cursor) per query
        rating_scale: 1-10           # optional: the scale of the source's ratings (files)
      - name: bluesky_airlines
        source: bluesky
        queries:                     # or brand → queries: records get that brand
          Delta: ["delta airlines"]
          JetBlue: [jetblue]

In `options`, `{data_dir}` is replaced by `Settings.data_dir` and a relative `path` is taken
relative to the config file. A record's brand is the brand its query is listed under, else the
job's only brand (when it has exactly one), else `options.brand`; the extract stage re-links
brands from the text anyway. Every job is validated when the file is read (each problem is a
one-line `ValueError` naming the job and the field), so a bad file fails before any request.

`configured_jobs()` is what the Airflow collect DAG maps over; `run.run_job` runs one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opinion.config import REPO_ROOT, Settings

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def config_path() -> Path:
    value = os.environ.get("OPINION_CONFIG")
    return Path(value).expanduser() if value else REPO_ROOT / "opinion.yaml"


@dataclass(frozen=True)
class CollectJob:
    """One configured collection: a connector, its options, and the brands/queries to run."""

    name: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)
    brands: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()
    enabled: bool = True
    query_brands: dict[str, str] = field(default_factory=dict)

    def source_options(self) -> list[dict[str, Any]]:
        """The options of each source this job runs (one per query, or one without)."""
        out = []
        for query in self.queries or (None,):
            opts = dict(self.options)
            if query is not None:
                opts["query"] = query
            brand = self.query_brands.get(query or "")
            if brand is None and len(self.brands) == 1:
                brand = self.brands[0]
            if brand is not None:
                opts["brand"] = brand
            out.append(opts)
        return out

    def sources(self, client=None) -> list:
        from opinion.sources.run import build_source

        return [build_source(self.source, client=client, **o) for o in self.source_options()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "options": self.options,
            "brands": list(self.brands),
            "queries": list(self.queries),
            "enabled": self.enabled,
        }


def _fail(where: str, why: str) -> ValueError:
    return ValueError(f"{where}: {why}")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(where, "must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _substitute(value: Any, data_dir: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{data_dir}", str(data_dir))
    if isinstance(value, dict):
        return {k: _substitute(v, data_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, data_dir) for v in value]
    return value


def parse_jobs(data: Any, where: str, base_dir: Path, settings: Settings) -> list[CollectJob]:
    """Validate a parsed opinion.yaml document into jobs (one-line ValueError on problems)."""
    from opinion.sources.run import SOURCES

    if data is None:
        return []
    if not isinstance(data, dict):
        raise _fail(where, "must be a mapping with a 'jobs' list")
    unknown = set(data) - {"version", "jobs"}
    if unknown:
        raise _fail(where, f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    if data.get("version", 1) != 1:
        raise _fail(where, f"version must be 1, got {data.get('version')!r}")
    raw_jobs = data.get("jobs") or []
    if not isinstance(raw_jobs, list):
        raise _fail(where, "'jobs' must be a list")
    jobs, names = [], set()
    for i, raw in enumerate(raw_jobs):
        here = f"{where} jobs[{i}]"
        if not isinstance(raw, dict):
            raise _fail(here, "must be a mapping")
        bad = set(raw) - {
            "name", "source", "enabled", "options", "brands", "queries", "rating_scale"
        }  # fmt: skip
        if bad:
            raise _fail(here, f"unknown key(s): {', '.join(sorted(bad))}")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(here, f"name must match [A-Za-z0-9_.-]+, got {name!r}")
        here = f"{where} job {name!r}"
        if name in names:
            raise _fail(here, "duplicate job name")
        names.add(name)
        source = raw.get("source")
        if source not in SOURCES:
            raise _fail(here, f"source must be one of {', '.join(sorted(SOURCES))}, got {source!r}")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _fail(here, f"enabled must be true or false, got {enabled!r}")
        options = raw.get("options") or {}
        if not isinstance(options, dict):
            raise _fail(here, "options must be a mapping")
        options = _substitute(options, settings.data_dir)
        if raw.get("rating_scale") is not None:  # shorthand for options.rating_scale
            options = {**options, "rating_scale": str(raw["rating_scale"])}
        if isinstance(options.get("path"), str) and not Path(options["path"]).is_absolute():
            options["path"] = str(base_dir / options["path"])
        brands = _strings(raw.get("brands"), f"{here} brands")
        queries_raw = raw.get("queries")
        query_brands: dict[str, str] = {}
        if isinstance(queries_raw, dict):
            queries: list[str] = []
            for brand, qs in queries_raw.items():
                for q in _strings(qs, f"{here} queries.{brand}"):
                    queries.append(q)
                    query_brands[q] = str(brand)
            brands = tuple(dict.fromkeys([*brands, *map(str, queries_raw)]))
            queries_t = tuple(queries)
        else:
            queries_t = _strings(queries_raw, f"{here} queries")
        job = CollectJob(name, source, options, brands, queries_t, enabled, query_brands)
        for opts in job.source_options():
            try:
                SOURCES[source][0].from_options(**opts)
            except ValueError as exc:
                raise _fail(here, str(exc)) from None
        jobs.append(job)
    return jobs


def load_jobs(path: Path | None = None, settings: Settings | None = None) -> list[CollectJob]:
    """Every job of the config file (enabled or not)."""
    settings = settings or Settings.from_env()
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"collect config not found: {path}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"{path.name}: not valid YAML ({first})") from None
    return parse_jobs(data, path.name, path.resolve().parent, settings)


def configured_jobs(
    settings: Settings | None = None, enabled_only: bool = True, path: Path | None = None
) -> list[CollectJob]:
    """The jobs of opinion.yaml (only enabled ones by default): what the collect DAG maps."""
    jobs = load_jobs(path, settings)
    return [j for j in jobs if j.enabled or not enabled_only]


def get_job(name: str, settings: Settings | None = None, path: Path | None = None) -> CollectJob:
    """The job called `name` (enabled or not)."""
    jobs = load_jobs(path, settings)
    for job in jobs:
        if job.name == name:
            return job
    known = ", ".join(j.name for j in jobs) or "none"
    raise ValueError(
        f"no collect job named {name!r} in {(path or config_path()).name} (known: {known})"
    )
