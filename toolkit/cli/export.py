"""`edgekit export`: convert a run's models, or your own Keras model, to every target and gate them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli import image_options as images
from toolkit.cli.app import command
from toolkit.cli.options import (
    AllowChance,
    ConfigFile,
    Data,
    Fix,
    Out,
    QatEpochs,
    Runtime,
    Targets,
    Tolerance,
    build_config,
    refuse_unused,
)
from toolkit.errors import InputError

ExportRun = Annotated[
    Path | None, typer.Argument(metavar="RUN_DIR", help="The run directory to export (omit it with --model).")
]
Model = Annotated[
    Path | None,
    typer.Option(
        "--model",
        metavar="PATH",
        help="Your classifier instead of a run: a .keras or .h5 file (Keras 3 or tf-keras) or a SavedModel directory.",
    ),
]
WithQat = Annotated[
    bool, typer.Option("--qat", help="With --model: also fine-tune a QAT copy on --data (tf-keras models).")
]
TrustModel = Annotated[
    bool,
    typer.Option(
        "--trust-model",
        help="Load a model whose file carries Python code (Lambda layers, custom objects): that code runs.",
    ),
]
Tfjs = Annotated[bool, typer.Option("--tfjs/--no-tfjs", help="Export TF.js (verified in Node and Chromium).")]
Quantizer = Annotated[
    list[str] | None,
    typer.Option(
        "--quantizer",
        metavar="RECIPE",
        help="Also write TFLite through the LiteRT quantizer: int8 (tflite-int8-aeq), int16x8 (tflite-int16x8, "
        "int16 activations: slow on CPUs), weights-int8 or weights-int4 (tflite-weights-int8/-int4: weight-only, "
        "float activations and I/O); repeatable.",
    ),
]
FloatLayers = Annotated[
    list[str] | None,
    typer.Option(
        "--float-layers",
        metavar="PATTERN",
        help="With --quantizer: keep these layers in float (a layer name, op type or regular expression); repeatable.",
    ),
]
Int16Layers = Annotated[
    list[str] | None,
    typer.Option(
        "--int16-layers",
        metavar="PATTERN",
        help="With --quantizer: give these layers int16 activations (name, op type or regex); repeatable.",
    ),
]


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
    targets: Targets = None,
    fix: Fix = None,
    allow_chance_reference: AllowChance = None,
    config: ConfigFile = None,
    trust_model: TrustModel = False,
    tfjs: Tfjs = True,
    quantizer: Quantizer = None,
    float_layers: FloatLayers = None,
    int16_layers: Int16Layers = None,
    normalization: images.NormalizationKind = None,
    mean: images.Mean = None,
    std: images.Std = None,
    test_fraction: images.TestFraction = None,
    split_seed: images.SplitSeed = None,
) -> None:
    """Export a run's artifacts, or import your model and gate it.

    Writes TFLite (float32, float16, dynamic, int8, and RGB-pixels float32 and uint8 for MediaPipe Tasks), TF.js
    and SavedModel artifacts, each with its contract. With RUN_DIR it only exports (`edgekit validate RUN_DIR` gates
    them, or --fix now); with --model it imports your model into a new run, exports it and runs the parity gate.
    """
    given = dict(locals())
    from toolkit.flow.export import export as export_step
    from toolkit.flow.own_model import import_model
    from toolkit.flow.train import default_run_dir

    if (run_dir is None) == (model is None):
        raise InputError("give either a RUN_DIR or --model (not both)")
    _refuse_what_cannot_apply(given)
    images.refuse_split_unless_folder(data, test_fraction, split_seed)
    declared = images.normalization(normalization, mean, std)
    gate = dict(tolerances=tolerance, runtimes=runtime, targets=targets, allow_chance_reference=allow_chance_reference)
    layers = dict(float_layers=float_layers, int16_layers=int16_layers)
    export = dict(tfjs=None if tfjs else False, quantizer=quantizer, **layers)
    settings = build_config(config, qat=dict(epochs=qat_epochs), export=export, parity=dict(**gate, fix=fix))
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


IMPORTING = ("data", "out", "qat", "trust_model", "normalization", "mean", "std", "test_fraction", "split_seed")
GATING = ("tolerance", "runtime", "targets", "allow_chance_reference", "qat_epochs")


def _refuse_what_cannot_apply(given: dict) -> None:
    """`export RUN_DIR` neither imports (the run has its model, data and pixels) nor gates unless --fix; with
    --model, QAT epochs matter only to --qat or --fix."""
    if given["run_dir"] is not None:
        why = "only with --model; a run already has its model, data and pixel convention"
        refuse_unused(why, **{name: given[name] for name in IMPORTING})
        if not given["fix"]:
            why = "only with --fix; `export RUN_DIR` does not gate (`edgekit validate RUN_DIR` does)"
            refuse_unused(why, **{name: given[name] for name in GATING})
    elif not (given["qat"] or given["fix"]):
        refuse_unused("only with --qat or --fix", qat_epochs=given["qat_epochs"])
