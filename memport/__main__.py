"""``python -m memport`` runs the CLI."""

from .cli import cli

cli()
