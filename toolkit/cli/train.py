"""`edgekit train`: train the float model into a new run directory, or resume a killed one."""

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
    Resume,
    Seed,
    ValidationSize,
    WorkerIndex,
    Workers,
)


@command
def train(
    out: Out = None,
    data: Data = None,
    arch: Arch = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    learning_rate: LearningRate = None,
    validation_size: ValidationSize = None,
    augment: Augment = None,
    seed: Seed = None,
    config: ConfigFile = None,
    preset: Preset = "default",
    resume: Resume = None,
    worker: Workers = None,
    worker_index: WorkerIndex = None,
    normalization: images.NormalizationKind = None,
    mean: images.Mean = None,
    std: images.Std = None,
    test_fraction: images.TestFraction = None,
    split_seed: images.SplitSeed = None,
) -> None:
    """Train the float model into a new run, or resume a killed one.

    The network is --arch (default cnn3-bn-slim), trained with early stopping, a best checkpoint and one per
    epoch. On a cluster (TF_CONFIG set, or --worker/--worker-index) every worker runs this command; only the
    chief writes the run directory.
    """
    from toolkit.cli.options import build_config, refuse_with_resume, use_cluster
    from toolkit.flow.train import default_run_dir, resume_train
    from toolkit.flow.train import train as train_step

    options = dict(
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
    refuse_with_resume(resume, out=out, data=data, config=config, preset=preset, **options, **images_given)
    images.refuse_split_unless_folder(data, test_fraction, split_seed)
    use_cluster(worker, worker_index)
    if resume is not None:
        resume_train(resume)
        return
    train_step(
        out or default_run_dir(),
        build_config(config, preset, train=options),
        data,
        images.normalization(normalization, mean, std),
        images.split(test_fraction, split_seed),
    )
