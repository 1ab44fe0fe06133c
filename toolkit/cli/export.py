"""`edgekit export`: convert a run's models, or your own tf-keras model, to every target and gate them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli import image_options as images
from toolkit.cli.app import command, import_tensorflow
from toolkit.cli.options import ConfigFile, Data, Out, QatEpochs, Runtime, Tolerance
from toolkit.errors import InputError


@command
def export(
    run_dir: Annotated[Path | None, typer.Argument(help="Run directory to export (omit with --model).")] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Your tf-keras classifier (.h5, .keras or SavedModel dir) instead of a run."),
    ] = None,
    data: Data = None,
    out: Out = None,
    qat: Annotated[bool, typer.Option("--qat", help="With --model: also fine-tune a QAT copy on --data.")] = False,
    qat_epochs: QatEpochs = None,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    config: ConfigFile = None,
    tfjs: Annotated[
        bool, typer.Option("--tfjs/--no-tfjs", help="Export TF.js (verified only in Node/Chromium).")
    ] = True,
    normalization: images.NormalizationKind = "unit",
    mean: images.Mean = None,
    std: images.Std = None,
    test_fraction: images.TestFraction = images.DEFAULT_TEST_FRACTION,
    split_seed: images.SplitSeed = images.DEFAULT_SPLIT_SEED,
) -> None:
    """Export TFLite (float32, float16, dynamic, int8), TF.js and SavedModel artifacts with their contracts.

    With a RUN_DIR it only exports (then run `edgekit validate`); with --model it imports your model into a new
    run, exports it and runs the parity gate.
    """
    from toolkit.cli.options import build_config
    from toolkit.flow import check_import, default_run_dir, import_model
    from toolkit.flow import export as export_step

    if (run_dir is None) == (model is None):
        raise InputError("give either a RUN_DIR or --model (not both)")
    if run_dir is not None and (data or out or qat):
        raise InputError("--data, --out and --qat go with --model; a run directory already has its data")
    declared = images.normalization(normalization, mean, std)
    if model is not None:
        check_import(model, qat)  # refusals that need no TensorFlow come first, in milliseconds
    import_tensorflow()
    settings = build_config(
        config,
        qat=dict(epochs=qat_epochs),
        export=dict(tfjs=None if tfjs else False),
        parity=dict(tolerances=tolerance, runtimes=runtime),
    )
    if model is not None:
        split = images.split(test_fraction, split_seed)
        import_model(model, out or default_run_dir(), settings, data, qat, declared, split)
    else:
        export_step(run_dir, settings)
