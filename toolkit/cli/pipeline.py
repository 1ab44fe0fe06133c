"""`edgekit pipeline`: train -> QAT -> export -> parity gate, in one new run directory (or finish a killed one)."""

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
    Fix,
    LearningRate,
    Out,
    Preset,
    QatEpochs,
    Resume,
    Runtime,
    Seed,
    Targets,
    Tolerance,
    ValidationSize,
)


@command
def pipeline(
    out: Out = None,
    data: Data = None,
    arch: Arch = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    learning_rate: LearningRate = None,
    validation_size: ValidationSize = None,
    augment: Augment = None,
    seed: Seed = None,
    qat_epochs: QatEpochs = None,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    targets: Targets = None,
    fix: Fix = None,
    config: ConfigFile = None,
    preset: Preset = "default",
    resume: Resume = None,
    normalization: images.NormalizationKind = None,
    mean: images.Mean = None,
    std: images.Std = None,
    test_fraction: images.TestFraction = None,
    split_seed: images.SplitSeed = None,
) -> None:
    """Train, QAT, export and gate in a new run: exit 0 if all pass.

    Trains the float model (MNIST unless --data), fine-tunes a quantization-aware copy, exports every artifact and
    evaluates each on the whole test set in its runtimes. With --resume RUN_DIR, finish a killed pipeline:
    training continues from its last epoch, then every step that did not finish runs (QAT, export and gate
    settings may still be given).
    """
    from toolkit.cli.options import build_config, refuse_with_resume
    from toolkit.flow.pipeline import pipeline as run_pipeline
    from toolkit.flow.pipeline import resume_pipeline
    from toolkit.flow.train import default_run_dir

    train = dict(
        architecture=arch,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        validation_size=validation_size,
        augment=augment,
        seed=seed,
    )
    images_given = dict(
        normalization=normalization, mean=mean, std=std, test_fraction=test_fraction, split_seed=split_seed
    )
    refuse_with_resume(resume, out=out, data=data, preset=preset, **train, **images_given)
    images.refuse_split_unless_folder(data, test_fraction, split_seed)
    parity = dict(tolerances=tolerance, runtimes=runtime, targets=targets, fix=fix)
    later = dict(qat=dict(epochs=qat_epochs), parity=parity)
    if resume is not None:
        resume_pipeline(resume, build_config(config, **later))
        return
    run_pipeline(
        out or default_run_dir(),
        build_config(config, preset, train=train, **later),
        data,
        images.normalization(normalization, mean, std),
        images.split(test_fraction, split_seed),
    )
