"""`opinion eval|taxonomy|label|train|analyze|bench`: the models and what measures them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from opinion.cli.common import (
    _settings,
    label_file_columns,
    lake_option,
    main,
    model_option,
    one_line_errors,
)


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


def rating_buckets_option(applies_to: str):
    """`--rating-buckets LOW,HIGH`: the label column is a numeric rating, bucketed."""
    return click.option(
        "--rating-buckets",
        callback=_rating_buckets,
        help=f"({applies_to}) the label column is a numeric rating: <= LOW negative, <= HIGH "
        "neutral, above positive (e.g. 4,6 for a 1-10 score).",
    )


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
@rating_buckets_option("sentiment")
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
@label_file_columns("--labels")
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
    default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "absa"),
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
@click.option(
    "--post-weight",
    type=click.FloatRange(0, None),
    default=None,
    help="The post-sentiment loss's weight in the joint run (default 0.3: more leans the "
    "shared encoder away from aspect sentiment).",
)
@click.option(
    "--post-labels",
    type=click.Path(dir_okay=False),
    default=None,
    help="Your labelled posts (CSV/JSONL/Parquet, labels as for `opinion eval --task "
    "sentiment`): refit only the post-sentiment head on them, over the frozen encoder.",
)
@click.option(
    "--long-labels",
    type=click.Path(dir_okay=False),
    default=None,
    help="Rated long posts (reviews; labels or, with --rating-buckets, a numeric rating): fit "
    "the long-post head that reads a review from its sentences.",
)
@label_file_columns("--post-labels, --long-labels")
@rating_buckets_option("--long-labels, --post-labels")
@click.option(
    "--from",
    "base_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="(--post-labels, --long-labels) the model whose encoder and other heads are kept "
    "(default: the embedded model folder).",
)
@click.option(
    "--post-data",
    default=None,
    help="General post-level tweets (JSON Lines) learnt beside your labels (default: "
    "tweets/semeval17_4a.train.jsonl beside --data; `none`: your labels only).",
)
@click.option(
    "--post-dev",
    type=click.Path(dir_okay=False),
    default=None,
    help="(--post-labels, --long-labels) labelled posts never trained on, scored into "
    "metrics.json.",
)
@one_line_errors
def train(
    data_dir,
    out_dir,
    seed,
    limit,
    epochs,
    post_weight,
    post_labels,
    long_labels,
    text_col,
    label_col,
    rating_buckets,
    base_dir,
    post_data,
    post_dev,
) -> None:
    """Fine-tune the embedded MiniLM (aspect tagging + aspect sentiment + post sentiment, one
    joint model), or with --post-labels only its post-sentiment head, with --long-labels only
    its long-post head, in minutes."""
    from opinion.analyze import post_tweets, train_long_labels, train_post_labels
    from opinion.nlp.registry import EMBEDDED_DIR

    logging.getLogger().setLevel(logging.INFO)
    if post_labels and long_labels:
        raise click.UsageError("--post-labels and --long-labels are two runs: post head first")
    if long_labels:
        report = train_long_labels(
            long_labels,
            text_col,
            label_col,
            rating_buckets,
            base_dir or EMBEDDED_DIR,
            out_dir or EMBEDDED_DIR,
            post_dev,
            echo=click.echo,
        )
        click.echo(json.dumps({k: report.get(k) for k in ("cross_validation", "dev")}, indent=2))
        return
    tweets = post_tweets(data_dir, post_data)
    if post_labels:
        report = train_post_labels(
            post_labels,
            text_col,
            label_col,
            rating_buckets,
            base_dir or EMBEDDED_DIR,
            out_dir or EMBEDDED_DIR,
            tweets,
            post_dev,
            seed=seed,
            limit=limit,
            epochs=epochs,
            echo=click.echo,
        )
        click.echo(json.dumps(report["dev_metrics"], indent=2))
        return
    from opinion.nlp.train import TrainConfig, train_all

    extra: dict = {"epochs": epochs} if epochs else {}
    if post_weight is not None:
        extra["post_weight"] = post_weight
    if post_data is not None:
        extra["post_data"] = tweets
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
@click.option(
    "--pipeline/--no-pipeline",
    default=True,
    show_default=True,
    help="Also time `opinion collect` and `opinion extract --force` as commands (start-up "
    "included) on a fresh lake of the same tweets.",
)
@click.option(
    "--runtimes",
    default=None,
    help="Compare encoder runtimes side by side, e.g. torch,onnx,onnx-int8: the same bench "
    "once per runtime per round (--repeats rounds), each in its own process (its own peak RSS).",
)
@click.option(
    "--repeats",
    type=int,
    default=3,
    show_default=True,
    help="Timed passes (with --runtimes: rounds of one pass per runtime).",
)
@click.option("--no-privacy", is_flag=True, help="Skip collect's privacy step.")
@click.option("--json", "as_json", is_flag=True, help="Only the JSON result line.")
@model_option
@one_line_errors
def bench(
    limit, naive_limit, corpus, reviews_path, reviews_limit, pipeline, runtimes, repeats,
    no_privacy, as_json, model,
) -> None:  # fmt: skip
    """Extraction throughput and peak RSS on the demo corpus vs a naive pipeline() baseline;
    `--corpus reviews` adds long reviews; `--runtimes` compares encoder runtimes."""
    from opinion.bench import compare_runtimes, run_bench

    if runtimes:
        args = [f"--naive-limit={naive_limit}", f"--corpus={corpus}", "--repeats=1"]
        args += [f"--reviews-limit={reviews_limit}", "--pipeline" if pipeline else "--no-pipeline"]
        args += [f"--limit={limit}"] if limit else []
        args += [f"--reviews={reviews_path}"] if reviews_path else []
        args += [f"--model={model}"] if model else []
        result = compare_runtimes(
            [r for r in runtimes.split(",") if r.strip()],
            args,
            rounds=repeats,
            echo=None if as_json else click.echo,
        )
        if not as_json:
            for name, row in result["runtimes"].items():
                click.echo(
                    f"{name:>10}: {row['posts_per_s']:>7} posts/s"
                    + (f", {row['reviews_per_s']:>6} reviews/s" if "reviews_per_s" in row else "")
                    + f", peak RSS {row['peak_rss_mb']:.0f} MB, {row['speedup']}x naive"
                )
        click.echo(json.dumps(result))
        return
    result = run_bench(
        limit=limit,
        naive_limit=naive_limit,
        model=model,
        echo=None if as_json else click.echo,
        corpus=corpus,
        reviews_path=Path(reviews_path) if reviews_path else None,
        reviews_limit=reviews_limit,
        pipeline=pipeline,
        repeats=repeats,
        privacy=not no_privacy,
    )
    click.echo(json.dumps(result))


# ignore_unknown_options: a QUERY starting with a `-- comment` is the query, not an option
