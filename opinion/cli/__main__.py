"""`python -m opinion.cli …` is the same as the `opinion` command."""

import sys

from opinion.cli import main

sys.exit(main())
