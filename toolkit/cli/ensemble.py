"""`edgekit ensemble`: train K members, average them into one model, and ship it through QAT, export and the gate."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.app import command
from toolkit.cli.options import (
    Augment,
    BatchSize,
    ConfigFile,
    Data,
    Epochs,
    LearningRate,
    Out,
    Preset,
    QatEpochs,
    Runtime,
    Seed,
    Tolerance,
)
from toolkit.config import Architecture


@command
def ensemble(
    out: Out = None,
    data: Data = None,
    members: Annotated[
        int, typer.Option("--members", "-k", min=2, max=100, metavar="K", help="Number of members.")
    ] = 3,
    arch: Annotated[
        list[Architecture] | None,
        typer.Option(
            "--arch", metavar="NAME", help="The members' networks, used in turn; repeatable. Default: preset's."
        ),
    ] = None,
    qat: Annotated[
        bool, typer.Option("--qat/--no-qat", help="Fine-tune a QAT copy of the whole ensemble for its int8 model.")
    ] = True,
    joint_epochs: Annotated[
        int,
        typer.Option(
            "--joint-epochs",
            min=0,
            max=10_000,
            metavar="N",
            help="Epochs fine-tuning the combined model as one (0: the plain average).",
        ),
    ] = 0,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    learning_rate: LearningRate = None,
    augment: Augment = None,
    seed: Seed = None,
    qat_epochs: QatEpochs = None,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    config: ConfigFile = None,
    preset: Preset = "default",
) -> None:
    """Train K models, average them into one, export and gate it.

    The members differ by seed (seed, seed+1, ...) and, with several --arch, by network; the input shape and
    classes come from --data. The combined model goes through QAT, export and the gate like any other; the
    report shows each member and the ensemble.
    """
    from toolkit.cli.options import build_config, refuse_unused

    if not qat:
        refuse_unused("only with --qat; --no-qat fine-tunes nothing quantization-aware", qat_epochs=qat_epochs)
    from toolkit.flow.ensemble import ensemble as run_ensemble
    from toolkit.flow.train import default_run_dir

    settings = build_config(
        config,
        preset,
        train=dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, augment=augment, seed=seed),
        qat=dict(epochs=qat_epochs),
        parity=dict(tolerances=tolerance, runtimes=runtime),
    )
    architectures = arch or [settings.train.architecture]
    run_ensemble(
        out or default_run_dir(), settings, architectures, members, data, with_qat=qat, joint_epochs=joint_epochs
    )
