"""`edgekit pipeline`: train -> QAT -> export -> parity gate, in one new run directory."""

from __future__ import annotations

from toolkit.cli import image_options as images
from toolkit.cli.app import command
from toolkit.cli.options import (
    Arch,
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


@command(uses_tensorflow=True)
def pipeline(
    out: Out = None,
    data: Data = None,
    arch: Arch = None,
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
    normalization: images.NormalizationKind = "unit",
    mean: images.Mean = None,
    std: images.Std = None,
    test_fraction: images.TestFraction = images.DEFAULT_TEST_FRACTION,
    split_seed: images.SplitSeed = images.DEFAULT_SPLIT_SEED,
) -> None:
    """Run every step with defaults a command away: exit 0 only if every artifact passes the gate."""
    from toolkit.cli.options import build_config
    from toolkit.flow import default_run_dir
    from toolkit.flow import pipeline as run_pipeline

    settings = build_config(
        config,
        preset,
        train=dict(
            architecture=arch,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            augment=augment,
            seed=seed,
        ),
        qat=dict(epochs=qat_epochs),
        parity=dict(tolerances=tolerance, runtimes=runtime),
    )
    run_pipeline(
        out or default_run_dir(),
        settings,
        data,
        images.normalization(normalization, mean, std),
        images.split(test_fraction, split_seed),
    )
