"""The `edgekit` command line: a thin Typer layer, one module per command, each calling one library function."""

import sys

from toolkit.import_names import conflict

# Before anything imports `exporters`: another distribution's package of that name may stand in its place.
if (_conflict := conflict()) is not None:
    print(f"error: {_conflict}", file=sys.stderr)
    sys.exit(2)

# Importing a command module registers its command on `app`.
from toolkit.cli import android, export, pipeline, qat, serve, train, validate  # noqa: E402,F401
from toolkit.cli.app import app


def main() -> None:
    """Console entry point."""
    app()
