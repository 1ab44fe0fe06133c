"""The `edgekit` command line: a thin Typer layer, one module per command, each calling one library function."""

# Importing a command module registers its command on `app`.
from toolkit.cli import android, debug, export, pipeline, qat, serve, train, validate  # noqa: E402,F401
from toolkit.cli.app import app


def main() -> None:
    """Console entry point."""
    app()
