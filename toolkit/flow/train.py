"""`train`: the float model into a new run directory (or resumed after a kill), recorded with its history."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from exporters.base import Normalization
from toolkit.config import Config, validation_size
from toolkit.data.datasets import Dataset, load_data
from toolkit.data.run_data import load_run_data, record_data
from toolkit.errors import InputError
from toolkit.gate.stats import accuracy
from toolkit.run import Run

log = logging.getLogger("edgekit")


def default_run_dir() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def train(
    out: Path,
    config: Config,
    data_path: Path | None = None,
    normalization: Normalization | None = None,
    split: dict | None = None,
) -> Run | None:
    """Train the float model into a new run directory.

    Under a cluster (TF_CONFIG) every worker trains, and only the chief creates and writes the run directory.

    Args:
        out: the run directory to create (must not exist, or be empty).
        config: settings; only `config.train` is used here.
        data_path: a user's data set (see toolkit.data.datasets.load_data); None for MNIST.
        normalization: how pixels become model inputs (default: [0, 1]).
        split: test split of an image folder without one ({"test_fraction", "seed"}).

    Returns:
        The run; None on a worker that is not the chief.
    """
    from toolkit.modeling.convention import for_training
    from toolkit.modeling.distributed import cluster_strategy

    data = load_data(data_path, split)  # before creating the run: bad data leaves nothing behind
    classifier = data.classifier(for_training(normalization))
    try:
        classifier.normalization.check_channels(classifier.image.channels)
    except ValueError as error:
        raise InputError(str(error)) from None
    validation_size(config.train, len(data.x_train))
    strategy, chief = cluster_strategy()  # before any other TensorFlow op, as collectives require
    if not chief:
        from toolkit.modeling.training import train_model

        with tempfile.TemporaryDirectory() as scratch:
            train_model(data, config.train, Path(scratch), strategy=strategy, classifier=classifier)
        return None
    with Run.create(out) as run:
        record_data(run, data, data_path)
        run.set_classifier(classifier)
        return fit(run, data, config, strategy=strategy)


def resume_train(run_dir: Path) -> Run:
    """Continue a killed `train` from its last completed epoch, with the settings it was started with."""
    run = Run.open(run_dir)
    step = run.manifest["steps"].get("train")
    if step is None:
        raise InputError(f"{run.path}: no training to resume (the run was not made by `edgekit train`)")
    if "finished" in step:
        raise InputError(f"{run.path}: training already finished; nothing to resume")
    config = Config.model_validate({"train": step["config"]})
    return fit(run, load_run_data(run), config, resume=True)


def fit(
    run: Run, data: Dataset, config: Config, build: Callable | None = None, strategy=None, resume: bool = False
) -> Run:
    """Train the float model of an existing run (the configured architecture, or `build()`'s model) and record it.

    The model reads the run's images as its classifier says (MNIST's unit normalization when the run records
    none). With `resume`, training continues from the run's last completed epoch.
    """
    from toolkit.modeling.training import train_model
    from toolkit.runtimes.keras import KerasPredictor

    if "classifier" not in run.manifest:
        run.set_classifier(data.classifier())
    classifier = run.classifier
    if not resume:
        run.start("train", {"config": config.to_dict()["train"]})
    what = config.train.architecture.value if build is None else "a searched model"
    log.info("training %s on %d images from %s -> %s", what, len(data.x_train), data.source, run.path)
    start = time.perf_counter()
    model, history = train_model(
        data,
        config.train,
        run.checkpoints_dir(),
        resume=resume,
        build=build,
        strategy=strategy,
        tensorboard=run.tensorboard_dir("train"),
        classifier=classifier,
    )
    run.save_model(model, "float")
    test_accuracy = accuracy(KerasPredictor(model, classifier).predict(data.x_test), data.y_test)
    run.record(
        "train",
        {
            "config": config.to_dict()["train"],
            "epochs_run": len(history["loss"]),
            "seconds": round(time.perf_counter() - start, 1),
            "test_accuracy": round(test_accuracy, 4),
            "history": history,
            **({"workers": strategy.num_replicas_in_sync} if strategy is not None else {}),
        },
    )
    log.info("float model: %.2f%% test accuracy after %d epochs", test_accuracy, len(history["loss"]))
    return run
