"""`opinion …`: a thin command line over the library. No business logic lives here.

Every command has `--help` and exits non-zero with a one-line reason on bad input.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import sys
from pathlib import Path

import click

from opinion.config import Settings

EXPECTED_ERRORS = (ValueError, FileNotFoundError, PermissionError, KeyError, RuntimeError)


def one_line_errors(fn):
    """Turn expected failures into `Error: <one line>` and exit status 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except EXPECTED_ERRORS as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(message) from None
        except OSError as exc:  # disk full and other system errors: one line, no traceback
            if exc.errno == errno.ENOSPC:
                where = f" ({exc.filename})" if exc.filename else ""
                raise click.ClickException(f"no space left on device{where}") from None
            raise click.ClickException(f"{type(exc).__name__}: {exc}".splitlines()[0]) from None

    return wrapper


def _settings(warehouse: str | None = None, lake_dir: str | None = None, **kw) -> Settings:
    return Settings.from_env(warehouse=warehouse, lake_dir=lake_dir, **kw)


warehouse_option = click.option(
    "--warehouse",
    envvar="OPINION_WAREHOUSE",
    type=click.Path(dir_okay=False),
    help="Published warehouse file (default data/warehouse/opinion.duckdb).",
)
lake_option = click.option(
    "--lake",
    "lake_dir",
    envvar="OPINION_LAKE",
    type=click.Path(file_okay=False),
    help="Lake folder (default data/lake).",
)
model_option = click.option(
    "--model",
    envvar="OPINION_MODEL",
    default="embedded",
    show_default=True,
    help="Model spec: 'embedded', a HF model dir/id, or 'tagger=…,polarity=…'.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def main(verbose: bool) -> None:
    """opinion: social-media opinion mining for customer-experience intelligence."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
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


def _rating_buckets(ctx, param, value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LOW,HIGH (e.g. 4,6), got {value!r}") from None
    if low > high:
        raise click.BadParameter(f"LOW must not exceed HIGH, got {value!r}")
    return low, high


@main.command(name="eval")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option(
    "--task",
    type=click.Choice(["absa", "sentiment", "touchpoint"]),
    default="absa",
    show_default=True,
    help="absa: ATSC + ATE on an ABSA JSON Lines file; sentiment: post-level sentiment "
    "against a labelled CSV/JSONL/Parquet file; touchpoint: labelled posts scored on their "
    "dominant touchpoint.",
)
@click.option("--text-col", default="text", show_default=True, help="(sentiment, touchpoint)")
@click.option(
    "--label-col",
    default=None,
    help="(sentiment) label column, default `label`; (touchpoint) touchpoints or categories, "
    "several split by | or ;, default `touchpoint`.",
)
@click.option(
    "--rating-buckets",
    callback=_rating_buckets,
    help="(sentiment) the label column is a numeric rating: <= LOW negative, <= HIGH "
    "neutral, above positive (e.g. 4,6 for a 1-10 score).",
)
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@one_line_errors
def eval_cmd(data, task, text_col, label_col, rating_buckets, model, as_json) -> None:
    """Score the models on a labelled file: ABSA JSON Lines (ATSC on gold aspects, ATE exact
    spans), post-level sentiment labels or ratings (--task sentiment), or touchpoints."""
    if task == "sentiment":
        _eval_sentiment(data, text_col, label_col or "label", rating_buckets, model, as_json)
        return
    if task == "touchpoint":
        _eval_touchpoint(data, model, as_json, text_col, label_col or "touchpoint")
        return
    from opinion.nlp.absa_data import read_jsonl
    from opinion.nlp.evaluate import evaluate
    from opinion.nlp.registry import load_models

    examples = read_jsonl(data)
    if not examples:
        raise click.ClickException(f"{data}: no examples")
    tagger, polarity = load_models(model)
    result = evaluate(examples, tagger, polarity)
    if as_json:
        click.echo(json.dumps(result))
        return
    a, e, b = result["atsc"], result["ate"], result["baseline"]["atsc"]
    click.echo(f"{result['n']} sentences, {result['n_aspects']} aspects")
    click.echo(
        f"ATSC accuracy {a['accuracy']:.4f}  macro-F1 {a['macro_f1']:.4f}"
        f"   (VADER baseline: {b['accuracy']:.4f} / {b['macro_f1']:.4f})"
    )
    click.echo(f"ATE  precision {e['precision']:.4f}  recall {e['recall']:.4f}  F1 {e['f1']:.4f}")


def _eval_sentiment(data, text_col, label_col, rating_buckets, model, as_json) -> None:
    from opinion.analyze import evaluate_sentiment_file

    result = evaluate_sentiment_file(Path(data), text_col, label_col, rating_buckets, model)
    if as_json:
        click.echo(json.dumps(result))
        return
    m, b = result["sentiment"], result["baseline"]["sentiment"]
    click.echo(f"{result['n']} posts ({result['skipped']} skipped), labels {result['labels']}")
    for name, r in (("model", m), ("VADER", b)):
        recall = "  ".join(f"{c} {v:.3f}" for c, v in r["recall"].items())
        click.echo(
            f"{name:6} accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
            f"macro-recall {r['macro_recall']:.4f}  recall: {recall}"
        )
    click.echo("confusion (rows gold, columns predicted):")
    cols = list(next(iter(m["confusion"].values())))
    click.echo("            " + "".join(f"{c:>10}" for c in cols))
    for gold, row in m["confusion"].items():
        click.echo(f"{gold:>12}" + "".join(f"{row[c]:>10}" for c in cols))


def _eval_touchpoint(data, model, as_json, text_col, label_col) -> None:
    from opinion.extract.stage import load_engine
    from opinion.nlp.evaluate_touchpoint import evaluate_touchpoints, format_report, read_labelled
    from opinion.nlp.taxonomy import mapper_for, taxonomy_for

    rows = read_labelled(data, text_col, label_col)
    settings = _settings(model=model)
    result = evaluate_touchpoints(
        rows, load_engine(settings), mapper_for(settings), taxonomy_for(settings)
    )
    if as_json:
        click.echo(json.dumps(result))
        return
    for line in format_report(result):
        click.echo(line)


@main.group()
def taxonomy() -> None:
    """Taxonomy packs: fit a pack's heads (implicit categories, root cause) on your corpus."""


@taxonomy.command(name="fit")
@click.option("--pack", default=None, help="Pack name (default: the brand list's domain).")
@lake_option
@model_option
@click.option(
    "--limit",
    type=click.IntRange(1, None),
    default=None,
    help="Fit on the first N posts (by post_id) only.",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False),
    default=None,
    help="Posts your team labelled (CSV/JSONL/Parquet): a touchpoint or category of the pack "
    "per row, several split by | or ; (e.g. the file `opinion label` wrote).",
)
@click.option("--text-col", default="text", show_default=True, help="(--labels) text column.")
@click.option("--label-col", default="label", show_default=True, help="(--labels) label column.")
@click.option("--json", "as_json", is_flag=True, help="Only the JSON report.")
@one_line_errors
def taxonomy_fit(pack, lake_dir, model, limit, labels, text_col, label_col, as_json) -> None:
    """Fit the pack's category and root-cause heads on the lake's raw posts (and on your
    labelled posts); stored beside the pack."""
    from opinion.extract.taxonomy_fit import fit_taxonomy

    settings = _settings(lake_dir=lake_dir, model=model)
    echo = None if as_json else click.echo
    report = fit_taxonomy(settings, pack, echo, limit, labels, text_col, label_col)
    click.echo(json.dumps(report))


@main.command()
@click.option("--pack", default=None, help="Pack name (default: the brand list's domain).")
@click.option("--n", "n", type=click.IntRange(1, None), default=200, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True)
@click.option("--limit", type=click.IntRange(1, None), default=None, help="Read N posts only.")
@lake_option
@model_option
@one_line_errors
def label(pack, n, out_path, limit, lake_dir, model) -> None:
    """Write the N lake posts whose root cause the model is least sure about (spread out) as
    CSV with the model's guess and an empty `label` column; fill it, then
    `opinion taxonomy fit --labels FILE`."""
    from opinion.extract.taxonomy_fit import labelling_queue

    settings = _settings(lake_dir=lake_dir, model=model)
    click.echo(json.dumps(labelling_queue(settings, out_path, n, pack, None, limit)))


@main.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    default=str(Path(__file__).resolve().parent.parent.parent / "shared/data/absa"),
    show_default=True,
    help="Folder with the ABSA JSON Lines training files.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the model (default: the embedded model folder).",
)
@click.option("--seed", default=13, show_default=True)
@click.option("--limit", type=int, default=None, help="Cap examples per file (smoke runs).")
@click.option("--epochs", type=int, default=None, help="Override the number of epochs.")
@one_line_errors
def train(data_dir, out_dir, seed, limit, epochs) -> None:
    """Fine-tune the embedded MiniLM (aspect tagging + aspect sentiment, one joint model)."""
    from opinion.nlp.registry import EMBEDDED_DIR
    from opinion.nlp.train import TrainConfig, train_all

    logging.getLogger().setLevel(logging.INFO)
    extra = {"epochs": epochs} if epochs else {}
    cfg = TrainConfig(
        Path(data_dir),
        Path(out_dir) if out_dir else EMBEDDED_DIR,
        seed=seed,
        limit=limit,
        **extra,
    )
    report = train_all(cfg, click.echo)
    click.echo(json.dumps(report["dev_metrics"], indent=2))


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--text-col", default="text", show_default=True)
@click.option("--id-col", default=None, help="Column with the row id (default: row number).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True)
@model_option
@one_line_errors
def analyze(path, text_col, id_col, out_path, model) -> None:
    """Ad-hoc ABSA of a CSV/JSONL/Parquet file: one JSON line per input row."""
    from opinion.analyze import analyze_file

    n = analyze_file(Path(path), Path(out_path), text_col, id_col, model)
    click.echo(f"wrote {n} rows to {out_path}", err=True)


@main.command()
@click.option("--limit", type=int, default=None, help="Posts to use (default: whole corpus).")
@click.option(
    "--naive-limit",
    type=int,
    default=300,
    show_default=True,
    help="Posts for the slow one-at-a-time baseline.",
)
@click.option(
    "--corpus",
    type=click.Choice(["tweets", "reviews"]),
    default="tweets",
    show_default=True,
    help="reviews: also long reviews (reviews/s and tokens/s beside the tweet figures).",
)
@click.option(
    "--reviews",
    "reviews_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Reviews CSV with a text column (default: ../shared/data/reviews/airline_reviews.csv).",
)
@click.option("--reviews-limit", type=int, default=2000, show_default=True, help="Reviews to use.")
@click.option("--json", "as_json", is_flag=True, help="Only the JSON result line.")
@model_option
@one_line_errors
def bench(limit, naive_limit, corpus, reviews_path, reviews_limit, as_json, model) -> None:
    """Extraction throughput and peak RSS on the demo corpus vs a naive pipeline() baseline;
    `--corpus reviews` adds long reviews."""
    from opinion.bench import run_bench

    result = run_bench(
        limit=limit,
        naive_limit=naive_limit,
        model=model,
        echo=None if as_json else click.echo,
        corpus=corpus,
        reviews_path=Path(reviews_path) if reviews_path else None,
        reviews_limit=reviews_limit,
    )
    click.echo(json.dumps(result))


# ignore_unknown_options: a QUERY starting with a `-- comment` is the query, not an option
@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", required=False)
@warehouse_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]),
              default="table")  # fmt: skip
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Parquet file.")
@one_line_errors
def sql(query, warehouse, fmt, out) -> None:
    """Run QUERY on the published warehouse (read-only); no QUERY starts a shell."""
    from opinion.sqlshell import run_query, shell

    settings = _settings(warehouse)
    if query is None:
        shell(settings)
        return
    run_query(settings, query, fmt, click.echo, out)


@main.command()
@click.option("--brand", default=None, help="Only this brand's issues.")
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=None,
    help="Every alert whose window ends in the last N days of data, newest first.",
)
@click.option("--deliver", is_flag=True, help="Send the new alerts (opinion.yaml `notify:`).")
@warehouse_option
@one_line_errors
def alerts(brand, days, deliver, warehouse) -> None:
    """Emerging issues of the latest 24-hour window (v_emerging_issues), most severe first."""
    from opinion.insights.alerts import emerging_issues, format_issues

    if deliver:
        from opinion.insights.delivery import deliver_new

        click.echo(deliver_new(_settings(warehouse)))
        return
    click.echo(format_issues(emerging_issues(_settings(warehouse), brand, days), days))


@main.command()
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@warehouse_option
@one_line_errors
def serve(port, host, warehouse) -> None:
    """Web dashboard on the published warehouse (read-only; keeps working while loads run)."""
    from opinion.serve.app import serve as run

    click.echo(f"opinion dashboard on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    run(_settings(warehouse), host=host, port=port)


@main.command()
@click.option("--brand", required=True, help="Brand to report on (as in the warehouse).")
@click.option("--period", default=None, help="FROM:TO, ISO dates (either side may be empty).")
@click.option("--days", type=click.IntRange(1, 3660), default=None, help="The last N days.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True)
@click.option("--pdf", is_flag=True, help="Also print a PDF next to it (needs Chromium).")
@warehouse_option
@one_line_errors
def report(brand, period, days, out_path, pdf, warehouse) -> None:
    """Self-contained HTML report (scorecard, charts, top verbatims); --pdf via Chromium."""
    from opinion.serve.filters import parse_period
    from opinion.serve.report import write_report

    if period and days:
        raise click.UsageError("give --period or --days, not both")
    start, end = parse_period(period) if period else (None, None)
    written = write_report(_settings(warehouse), brand, Path(out_path), start, end, days, pdf)
    for path in written:
        click.echo(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
