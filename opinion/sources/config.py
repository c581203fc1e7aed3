"""`opinion.yaml`: which sources to collect, for which brands and queries.

The file (repo root, or `OPINION_CONFIG`) holds a list of jobs::

    version: 1
    jobs:
      - name: mastodon_airlines      # unique, [A-Za-z0-9_.-]
        source: mastodon             # a connector name from opinion.sources.registry.SOURCES
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
one-line `ConfigError` naming the job and the field), so a bad job fails before any request.
Each job is validated on its own (`load_entries`): the collect DAG lists every enabled entry,
a bad one fails its own task at once (terminal) and the healthy ones run.

`configured_jobs()` is what the Airflow collect DAG maps over; `opinion.collect.jobs.run_job`
runs one.
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
        from opinion.sources.registry import build_source

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


class ConfigError(ValueError):
    """A problem in opinion.yaml: retrying cannot fix it (the Airflow tasks fail at once)."""


def _fail(where: str, why: str) -> ConfigError:
    return ConfigError(f"{where}: {why}")


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


@dataclass(frozen=True)
class JobEntry:
    """One entry of `jobs:` after validation: its label (the job name, or `jobs[i]` when the
    entry has no usable name or repeats one) and either the job or why it is invalid. A bad
    entry stays one entry, so the collect DAG fails that job alone and runs the others."""

    label: str
    job: CollectJob | None
    error: ConfigError | None = None
    wanted: bool = True  # an invalid entry counts as enabled unless it says `enabled: false`

    @property
    def enabled(self) -> bool:
        return self.job.enabled if self.job is not None else self.wanted

    def get(self) -> CollectJob:
        if self.job is None:
            raise self.error or _fail(self.label, "invalid job")
        return self.job


def _document_jobs(data: Any, where: str) -> list:
    """The raw `jobs:` list of a document, after the checks that concern the whole file."""
    if data is None:
        return []
    if not isinstance(data, dict):
        raise _fail(where, "must be a mapping with a 'jobs' list")
    unknown = set(data) - {"version", "jobs", "notify"}  # notify: insights.delivery
    if unknown:
        raise _fail(where, f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    if data.get("version", 1) != 1:
        raise _fail(where, f"version must be 1, got {data.get('version')!r}")
    raw_jobs = data.get("jobs") or []
    if not isinstance(raw_jobs, list):
        raise _fail(where, "'jobs' must be a list")
    return raw_jobs


def _parse_job(raw: Any, i: int, where: str, base_dir: Path, settings: Settings) -> CollectJob:
    """Validate one entry of `jobs:` (one-line ConfigError naming the job and the field)."""
    from opinion.sources.registry import SOURCES

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
    return job


def job_entries(data: Any, where: str, base_dir: Path, settings: Settings) -> list[JobEntry]:
    """Validate each job on its own: a bad job becomes an entry carrying its error. Problems
    of the whole file (not a mapping, unknown top-level key, wrong version) still raise."""
    entries: list[JobEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(_document_jobs(data, where)):
        name = raw.get("name") if isinstance(raw, dict) else None
        usable = isinstance(name, str) and bool(_NAME.match(name)) and name not in seen
        label = name if usable else f"jobs[{i}]"
        if usable:
            seen.add(name)
        elif isinstance(name, str) and name in seen:
            error = _fail(f"{where} job {name!r}", "duplicate job name")
            entries.append(JobEntry(label, None, error, raw.get("enabled") is not False))
            continue
        try:
            entries.append(JobEntry(label, _parse_job(raw, i, where, base_dir, settings)))
        except ConfigError as exc:
            disabled = isinstance(raw, dict) and raw.get("enabled") is False
            entries.append(JobEntry(label, None, exc, not disabled))
    return entries


def parse_jobs(data: Any, where: str, base_dir: Path, settings: Settings) -> list[CollectJob]:
    """Validate a parsed opinion.yaml document into jobs (one-line ConfigError on the first
    problem): the strict reading the CLI uses."""
    return [entry.get() for entry in job_entries(data, where, base_dir, settings)]


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"collect config not found: {path}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{path.name}: not valid YAML ({first})") from None


def load_entries(path: Path | None = None, settings: Settings | None = None) -> list[JobEntry]:
    """Every entry of the config file, each validated on its own (see `job_entries`)."""
    settings = settings or Settings.from_env()
    path = path or config_path()
    return job_entries(_read_document(path), path.name, path.resolve().parent, settings)


def load_jobs(path: Path | None = None, settings: Settings | None = None) -> list[CollectJob]:
    """Every job of the config file (enabled or not); the first invalid job raises."""
    return [entry.get() for entry in load_entries(path, settings)]


def configured_jobs(
    settings: Settings | None = None, enabled_only: bool = True, path: Path | None = None
) -> list[CollectJob]:
    """The jobs of opinion.yaml (only enabled ones by default): what the collect DAG maps."""
    jobs = load_jobs(path, settings)
    return [j for j in jobs if j.enabled or not enabled_only]


def get_job(name: str, settings: Settings | None = None, path: Path | None = None) -> CollectJob:
    """The job labelled `name` (enabled or not); only that job has to be valid."""
    entries = load_entries(path, settings)
    for entry in entries:
        if entry.label == name:
            return entry.get()
    known = ", ".join(e.label for e in entries) or "none"
    raise ConfigError(
        f"no collect job named {name!r} in {(path or config_path()).name} (known: {known})"
    )
