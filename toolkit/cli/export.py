"""`edgekit export`: convert a run's models, or your own tf-keras model, to every target and gate them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli import image_options as images
from toolkit.cli.app import command
from toolkit.cli.options import AllowChance, ConfigFile, Data, Fix, Out, QatEpochs, Runtime, Tolerance
from toolkit.errors import InputError

ExportRun = Annotated[Path | None, typer.Argument(help="Run directory to export (omit with --model).")]
Model = Annotated[
    Path | None,
    typer.Option("--model", help="Your tf-keras classifier (.h5, .keras or SavedModel dir) instead of a run."),
]
WithQat = Annotated[bool, typer.Option("--qat", help="With --model: also fine-tune a QAT copy on --data.")]
TrustModel = Annotated[
    bool,
    typer.Option(
        "--trust-model",
        help="Load a model whose file carries Python code (Lambda layers, custom objects): that code runs.",
    ),
]
Tfjs = Annotated[bool, typer.Option("--tfjs/--no-tfjs", help="Export TF.js (verified only in Node/Chromium).")]


@command
def export(
    run_dir: ExportRun = None,
    model: Model = None,
    data: Data = None,
    out: Out = None,
    qat: WithQat = False,
    qat_epochs: QatEpochs = None,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    fix: Fix = None,
    allow_chance_reference: AllowChance = None,
    config: ConfigFile = None,
    trust_model: TrustModel = False,
    tfjs: Tfjs = True,
    normalization: images.NormalizationKind = None,
    mean: images.Mean = None,
    std: images.Std = None,
    test_fraction: images.TestFraction = None,
    split_seed: images.SplitSeed = None,
) -> None:
    """Export TFLite (float32, float16, dynamic, int8), TF.js and SavedModel artifacts with their contracts.

    With a RUN_DIR it only exports (then run `edgekit validate`); with --model it imports your model into a new
    run, exports it and runs the parity gate.
    """
    from toolkit.cli.options import build_config
    from toolkit.flow.export import export as export_step
    from toolkit.flow.own_model import import_model
    from toolkit.flow.train import default_run_dir

    if (run_dir is None) == (model is None):
        raise InputError("give either a RUN_DIR or --model (not both)")
    if run_dir is not None and (data or out or qat or trust_model):
        raise InputError("--data, --out, --qat and --trust-model go with --model; a run already has its model")
    declared = images.normalization(normalization, mean, std)
    settings = build_config(
        config,
        qat=dict(epochs=qat_epochs),
        export=dict(tfjs=None if tfjs else False),
        parity=dict(tolerances=tolerance, runtimes=runtime, fix=fix, allow_chance_reference=allow_chance_reference),
    )
    if model is not None:
        split = images.split(test_fraction, split_seed)
        import_model(
            model,
            out or default_run_dir(),
            settings,
            data,
            with_qat=qat,
            trust_model=trust_model,
            normalization=declared,
            split=split,
        )
    else:
        export_step(run_dir, settings)
        if fix:  # a fix needs the verdict: gate the fresh export now
            from toolkit.flow.validate import validate

            validate(run_dir, settings)
