"""`opinion sql|alerts|serve|report`: reading the published warehouse."""

from __future__ import annotations

from pathlib import Path

import click

from opinion.cli.common import (
    _settings,
    main,
    one_line_errors,
    warehouse_option,
)


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
