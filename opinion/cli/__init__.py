"""`opinion …`: a thin command line over the library. No business logic lives here.

Every command has `--help` and exits non-zero with a one-line reason on bad input.
"""

from opinion.cli import models, read, stages  # noqa: F401  (each registers its commands)
from opinion.cli.common import main

__all__ = ["main"]
