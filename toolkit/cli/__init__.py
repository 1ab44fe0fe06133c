"""The `edgekit` command line: a thin Typer layer, one module per command, each calling one library function."""

import sys

import toolkit

if toolkit.IMPORT_CONFLICT is not None:
    print(f"error: {toolkit.IMPORT_CONFLICT}", file=sys.stderr)
    sys.exit(2)

# Importing a command module registers its command on `app`.
from toolkit.cli import (  # noqa: E402,F401
    android,
    benchmark,
    debug,
    ensemble,
    export,
    pipeline,
    qat,
    report,
    serve,
    train,
    tune,
    validate,
)
from toolkit.cli.app import app


def main() -> None:
    """Console entry point."""
    app()
