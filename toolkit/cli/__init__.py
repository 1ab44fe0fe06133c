"""The `edgekit` command line: a thin Typer layer, one module per command, each calling one library function."""

from toolkit.cli.app import app

# Importing a command module registers its command on `app`.
from toolkit.cli import train, qat, export, validate, pipeline, serve, android  # noqa: E402,F401


def main() -> None:
    """Console entry point."""
    app()
