"""What every `opinion` command shares: the `main` group, one-line errors, the common
options. Commands live in `stages`, `models` and `read`, one module per family."""

from __future__ import annotations

import errno
import functools
import logging

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


def label_file_columns(option: str):
    """`--text-col` / `--label-col`: the columns of the labelled file that `option` names
    (`--labels`, `--post-labels`), as `opinion eval` reads them."""

    def decorate(command):
        command = click.option(
            "--label-col", default="label", show_default=True, help=f"({option}) label column."
        )(command)
        return click.option(
            "--text-col", default="text", show_default=True, help=f"({option}) text column."
        )(command)

    return decorate
