"""`edgekit android`: copy a run's TFLite model and its contract into the Android sample's assets."""

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import command
from toolkit.serve.android import DEFAULT_ARTIFACT, install_model  # light: no TensorFlow behind it


@command
def android(
    run_dir: Annotated[Path, typer.Argument(help="The run directory holding artifacts/<name>/.")],
    app_dir: Annotated[Path, typer.Option("--app", help="The Android project (holds app/).")] = Path("android_sample"),
    artifact: Annotated[str, typer.Option("--artifact", help="Which TFLite artifact to install.")] = DEFAULT_ARTIFACT,
    allow_failed: Annotated[
        bool, typer.Option("--allow-failed", help="Install even if the artifact failed the parity gate.")
    ] = False,
) -> None:
    """Put a run's TFLite model and contract into the Android app's assets."""
    for path in install_model(run_dir, app_dir, artifact, allow_failed=allow_failed):
        typer.echo(f"installed {path}")
