"""`opinion demo|collect|extract|load`: the stages, on the library's wings."""

from __future__ import annotations

import json
from pathlib import Path

import click

from opinion.cli.common import (
    _settings,
    lake_option,
    main,
    model_option,
    one_line_errors,
    warehouse_option,
)


@main.command()
@warehouse_option
@lake_option
@model_option
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False),
    help="Corpus CSV (default: the bundled airline tweets).",
)
@click.option("--limit", type=int, help="Only the first N rows (quick look).")
@one_line_errors
def demo(warehouse, lake_dir, model, input_path, limit) -> None:
    """Collect, clean, extract and load the bundled airline corpus; print a summary."""
    from opinion.demo import run_demo

    settings = _settings(warehouse, lake_dir, model=model)
    run_demo(settings, Path(input_path) if input_path else None, limit=limit, echo=click.echo)


@main.command()
@click.argument("source", required=False)
@click.option("--job", "job_name", default=None, help="Run the opinion.yaml job NAME.")
@click.option("--base-url", default=None, help="API host / instance (tests, mirrors, self-hosted).")
@click.option("--query", default=None, help="Search query / hashtag.")
@click.option("--brand", default=None, help="Brand stored on the collected posts.")
@click.option("--since", default=None, help="First-run lower bound, e.g. 2024-05-01.")
@click.option("--limit", type=int, default=None, help="Stop after the page reaching N records.")
@click.option("--path", type=click.Path(dir_okay=False), help="Input file (files source).")
@click.option(
    "--mapping",
    default=None,
    help='Column mapping as JSON, e.g. \'{"native_id":"id","text":"body"}\', or a preset '
    "name (AIRLINE_TWEETS, AIRLINE_REVIEWS).",
)
@click.option("--name", "source_name", default=None, help="Source name stored on posts.")
@click.option(
    "--option",
    "-o",
    "extra",
    multiple=True,
    help="Connector option KEY=VALUE (e.g. -o subreddit=travel, -o app_id=123).",
)
@click.option("--new-salt", is_flag=True, help="Accept a changed author salt (records it).")
@warehouse_option
@lake_option
@one_line_errors
def collect(
    source, job_name, base_url, query, brand, since, limit, path, mapping, source_name, extra,
    new_salt, warehouse, lake_dir,
) -> None:  # fmt: skip
    """Collect posts from SOURCE into raw lake partitions; print a one-line JSON report.

    SOURCE is a connector (mastodon, bluesky, hackernews, reddit, appstore, rss, files),
    `airline-demo` (the bundled corpus as source `airline_tweets`), or `all` (every enabled
    job of opinion.yaml); `--job NAME` runs one configured job.
    """
    from opinion.collect.jobs import collect_source, run_job
    from opinion.sources.registry import SOURCES, build_source

    settings = _settings(warehouse, lake_dir, new_salt=new_salt or None)
    if limit is not None and limit < 1:
        raise click.UsageError(f"--limit must be >= 1, got {limit}")
    if job_name or source == "all":
        if job_name and source not in (None, "all"):
            raise click.UsageError("give either SOURCE or --job, not both")
        from opinion.sources.config import configured_jobs

        jobs = [job_name] if job_name else configured_jobs(settings)
        reports = [r for job in jobs for r in run_job(settings, job, limit=limit)]
        click.echo(json.dumps({"jobs": reports}, default=str))
        return
    if not source:
        raise click.UsageError("give a SOURCE (or --job NAME, or all)")
    options: dict = {}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--option must be KEY=VALUE, got {item!r}")
        options[key.strip()] = value
    if source == "airline-demo":
        from opinion.demo import demo_corpus
        from opinion.sources.files import AIRLINE_TWEETS, TWEET_URL

        connector = "files"
        options.update(
            path=str(Path(path) if path else demo_corpus(settings)),
            name="airline_tweets",
            mapping=AIRLINE_TWEETS,
            url_template=TWEET_URL,
        )
    elif source in SOURCES:
        connector = source
        if source == "files" and not path:
            raise click.UsageError("the files source needs --path")
        if mapping and not mapping.lstrip().startswith("{"):
            options["mapping"] = mapping.strip()  # a preset name, e.g. AIRLINE_REVIEWS
        elif mapping:
            try:
                options["mapping"] = json.loads(mapping)
            except json.JSONDecodeError as exc:
                raise click.UsageError(f"--mapping is not JSON: {exc.msg}") from None
        options.update(path=path, name=source_name)
    else:
        known = ", ".join(["airline-demo", "all", *sorted(SOURCES)])
        raise click.UsageError(f"unknown source {source!r} (known: {known})")
    options.update(base_url=base_url, query=query, brand=brand, since=since)
    with build_source(connector, **{k: v for k, v in options.items() if v is not None}) as src:
        report = collect_source(settings, src, limit=limit)
    click.echo(json.dumps(report, default=str))


@main.command()
@warehouse_option
@lake_option
@model_option
@click.option("--force", is_flag=True, help="Re-extract every partition.")
@one_line_errors
def extract(warehouse, lake_dir, model, force) -> None:
    """Clean and analyse raw partitions that are new or made by another model version."""
    from opinion.extract.stage import extract as run

    report = run(_settings(warehouse, lake_dir, model=model), force=force)
    click.echo(json.dumps(report.__dict__))
    if report.skipped:  # their posts are missing until collect rewrites them: not a success
        raise click.ClickException(
            f"{len(report.skipped)} raw partition(s) unreadable, skipped ({report.skipped[0]}"
            f"{', …' if len(report.skipped) > 1 else ''}); collect their source again to rewrite"
        )


@main.command()
@warehouse_option
@lake_option
@click.option(
    "--rebuild",
    is_flag=True,
    help="Recompute dup_of and every aggregate from all rows (after a taxonomy change).",
)
@click.option("--json-out", type=click.Path(dir_okay=False), help="Also write the JSON here.")
@one_line_errors
def load(warehouse, lake_dir, rebuild, json_out) -> None:
    """Merge the lake into DuckDB (single writer), check quality, publish the snapshot.
    The JSON report is the last line of stdout (and the whole of `--json-out`)."""
    from opinion.warehouse.load import run_load as run

    report = run(_settings(warehouse, lake_dir), rebuild=rebuild)
    line = json.dumps(report if isinstance(report, dict) else report.__dict__, default=str)
    if json_out:
        Path(json_out).write_text(line + "\n")
    click.echo(line)
