"""`edgekit debug`: per-layer quantization error of an int8 artifact, worst layers first."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.app import command
from toolkit.cli.options import ConfigFile, RunDir


@command
def debug(
    run_dir: RunDir,
    artifact: Annotated[
        str, typer.Argument(metavar="ARTIFACT", help="An int8 TFLite artifact of the run, e.g. tflite-int8-ptq.")
    ],
    config: ConfigFile = None,
) -> None:
    """Rank the layers where an int8 artifact loses accuracy.

    Runs TFLite's QuantizationDebugger on calibration images, and the LiteRT quantizer's per-tensor SNR of its own
    int8 quantization, and writes both to RUN_DIR/debug/ARTIFACT.json.
    """
    from toolkit.cli.options import build_config
    from toolkit.fix.debug import debug_artifact

    result = debug_artifact(run_dir, artifact, build_config(config))
    typer.echo(f"{artifact}: worst layers by {result['metric']}")
    for layer in result["worst_layers"]:
        flag = "  SUSPECT" if layer["suspect"] else ""
        typer.echo(f"  {layer['relative_rmse']:8.2f}  {layer['op']:<16} {layer['node']}{flag}")
    snr = result["quantizer_snr"]
    typer.echo(f"{artifact}: worst tensors by {snr.get('metric', 'the LiteRT quantizer')}")
    if "error" in snr:
        typer.echo(f"  not measured: {snr['error']}")
    for tensor in snr.get("worst_tensors", []):
        shown = "-" if tensor["snr_db"] is None else f"{tensor['snr_db']:8.2f}"
        typer.echo(f"  {shown} dB  {tensor['tensor']}")
