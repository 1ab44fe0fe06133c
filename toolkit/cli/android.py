"""`edgekit android`: copy a run's TFLite model and its contract into the Android sample's assets."""

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import command
from toolkit.serve.android import DEFAULT_ARTIFACT, install_model  # light: no TensorFlow behind it


@command
def android(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="The run whose TFLite artifact to install.")],
    app_dir: Annotated[Path, typer.Option("--app", metavar="DIR", help="The Android project (holds app/).")] = Path(
        "android_sample"
    ),
    artifact: Annotated[
        str, typer.Option("--artifact", metavar="NAME", help="Which TFLite artifact to install.")
    ] = DEFAULT_ARTIFACT,
    allow_failed: Annotated[
        bool, typer.Option("--allow-failed", help="Install even if the artifact failed the parity gate.")
    ] = False,
) -> None:
    """Copy a run's TFLite model and contract into the Android app.

    The files go into the app's assets; an artifact that did not pass the gate is refused.
    """
    for path in install_model(run_dir, app_dir, artifact, allow_failed=allow_failed):
        typer.echo(f"installed {path}")
