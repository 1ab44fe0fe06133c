"""`edgekit train`: train the float model into a new run directory."""

from __future__ import annotations

from toolkit.cli.app import command
from toolkit.cli.options import (
    Augment,
    BatchSize,
    ConfigFile,
    Data,
    Epochs,
    LearningRate,
    Model,
    Out,
    Preset,
    Seed,
    WorkerIndex,
    Workers,
)


@command(uses_tensorflow=True)
def train(
    out: Out = None,
    data: Data = None,
    model: Model = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    learning_rate: LearningRate = None,
    augment: Augment = None,
    seed: Seed = None,
    config: ConfigFile = None,
    preset: Preset = "default",
    worker: Workers = None,
    worker_index: WorkerIndex = None,
) -> None:
    """Train a classifier (dense, cnn or cnn-bn) with early stopping and a best checkpoint.

    On a cluster (TF_CONFIG set, or --worker/--worker-index) every worker runs this command; only the chief
    writes the run directory.
    """
    from toolkit.cli.options import build_config, use_cluster
    from toolkit.flow import default_run_dir
    from toolkit.flow import train as train_step

    settings = build_config(
        config,
        preset,
        train=dict(
            architecture=model,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            augment=augment,
            seed=seed,
        ),
    )
    use_cluster(worker, worker_index)
    train_step(out or default_run_dir(), settings, data)
