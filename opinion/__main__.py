"""`python -m opinion …` is the same as the `opinion` command."""

from opinion.cli import main

main()
