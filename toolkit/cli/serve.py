"""`edgekit serve`: the drawing demo with a run's TF.js models, on a read-only local web server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import command


@command
def serve(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="The run whose TF.js models the demo offers (those that passed).")
    ],
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
    """Serve the browser demo and report of a run until Ctrl-C.

    The page fits the model: a drawing pad for digits and sketches, a picture, the camera and the run's test images
    for photos. Only TF.js models whose files passed the run's current gate are offered; each one left out gets a
    line saying why. None left: exit 2.
    """
    from toolkit.serve.demo import serve as run_server

    run_server(
        run_dir,
        host=host,
        port=port,
        allow_hosts=allow_host or (),
        echo=typer.echo,
        warn=lambda line: typer.echo(line, err=True),
    )
