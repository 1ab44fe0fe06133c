"""`edgekit serve`: the drawing demo with a run's TF.js models, on a read-only local web server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import command


@command
def serve(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="The run whose TF.js models the demo offers.")],
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8000,
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST", help="Address to listen on; anything but 127.0.0.1 exposes the demo to your network."
        ),
    ] = "127.0.0.1",
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="Also answer requests whose Host header names this (e.g. the machine's DNS name); repeatable. "
            "Other names get 421, which keeps DNS-rebinding pages away from the models.",
        ),
    ] = None,
) -> None:
    """Serve the drawing demo with a run's TF.js models and report.

    Draw a digit and the run's TF.js models classify it in the browser; the run's report is served beside it.
    Runs until Ctrl-C.
    """
    from toolkit.serve.demo import serve as run_server

    run_server(run_dir, host=host, port=port, allow_hosts=allow_host or (), echo=typer.echo)
