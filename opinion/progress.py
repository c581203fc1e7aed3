"""Progress bars for the long stages (collect, extract), off the import path of DAG files."""

from __future__ import annotations


def progress(iterable, total: int | None = None, desc: str = "", unit: str = "it"):
    """A tqdm bar that disappears when done (the stages print their own summary line)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
