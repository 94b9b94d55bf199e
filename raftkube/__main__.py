"""`python -m raftkube` runs the CLI."""

from .cli import main

main()
