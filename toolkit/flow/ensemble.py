"""`ensemble`: train K members, combine them into one model, then ship it through QAT, export and the gate."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from toolkit.config import Architecture, Config, validation_size
from toolkit.data.datasets import Dataset, load_data
from toolkit.data.run_data import record_data
from toolkit.flow.export import export
from toolkit.flow.qat import qat
from toolkit.flow.validate import validate
from toolkit.gate.stats import accuracy
from toolkit.modeling.ensemble import combine, member_plan
from toolkit.run import Run

log = logging.getLogger("edgekit")


def ensemble(
    out: Path,
    config: Config,
    architectures: list[Architecture],
    count: int,
    data_path: Path | None = None,
    with_qat: bool = True,
    joint_epochs: int = 0,
) -> dict:
    """Train the members, combine them as the run's float model, then qat -> export -> validate.

    Args:
        out: the run directory to create.
        config: settings; each member trains with `config.train` but its own architecture and seed.
        architectures: the members' architectures, used in turn.
        count: number of members.
        data_path: a user's data set; None for MNIST.
        with_qat: also fine-tune a QAT copy of the whole ensemble and export its int8 model.
        joint_epochs: epochs of fine-tuning the combined graph as one model (the [qat] rate, batch size and
            label smoothing); 0, the default, ships the plain average (docs/scale.md says why).

    Returns:
        The parity report, with each member's and the ensemble's test accuracy under "ensemble".
    """
    plan = member_plan(architectures, count, config.train.seed)
    data = load_data(data_path)
    with Run.create(out) as run:  # a failure while training the members leaves no run behind
        record_data(run, data, data_path)
        run.set_classifier(data.classifier())
        start = time.perf_counter()
        members, records = _train_members(run, data, config, plan)
        combined, averaged, history, test_accuracy = _combine(run, data, config, members, joint_epochs)
        run.save_model(combined, "float")
        log.info("ensemble of %d: %.2f%% test accuracy", len(members), test_accuracy)
        run.record(
            "ensemble",
            {
                "config": config.to_dict()["train"],
                "members": records,
                "averaged_accuracy": round(averaged, 4),
                "joint_epochs": joint_epochs,
                "joint_history": history,
                "test_accuracy": round(test_accuracy, 4),
                "seconds": round(time.perf_counter() - start, 1),
            },
        )
    if with_qat:
        qat(run.path, config)
    export(run.path, config)
    return validate(run.path, config)


def _train_members(run: Run, data: Dataset, config: Config, plan: list) -> tuple[list, list[dict]]:
    """Each member trained and saved in the run; (models, what the manifest records of each)."""
    from toolkit.modeling.training import train_model
    from toolkit.runtimes.keras import KerasPredictor

    members, records = [], []
    for i, (architecture, seed) in enumerate(plan):
        log.info("member %d/%d: %s, seed %d", i + 1, len(plan), architecture.value, seed)
        member_config = config.train.model_copy(update={"architecture": architecture, "seed": seed})
        model, history = train_model(data, member_config, run.checkpoints_dir(i), classifier=run.classifier)
        path = run.save_model(model, f"member-{i}")
        test_accuracy = accuracy(KerasPredictor(model, run.classifier).predict(data.x_test), data.y_test)
        log.info("member %d: %.2f%% test accuracy", i, test_accuracy)
        members.append(model)
        records.append(
            {
                "architecture": architecture.value,
                "seed": seed,
                "epochs_run": len(history["loss"]),
                "test_accuracy": round(test_accuracy, 4),
                "model": path.relative_to(run.path).as_posix(),
            }
        )
    return members, records


def _combine(run: Run, data: Dataset, config: Config, members: list, joint_epochs: int):
    """(combined model, its plain average's accuracy, the joint epochs' history, its final accuracy)."""
    from toolkit.modeling.training import fine_tune
    from toolkit.runtimes.keras import KerasPredictor

    combined = combine(members, data.image.shape)
    averaged = accuracy(KerasPredictor(combined, run.classifier).predict(data.x_test), data.y_test)
    log.info("average of %d members: %.2f%% test accuracy", len(members), averaged)
    if not joint_epochs:
        return combined, averaged, {}, averaged
    log.info("fine-tuning the ensemble as one model: %d epoch(s)", joint_epochs)
    settings = config.qat.model_copy(update={"epochs": joint_epochs})
    validation = validation_size(config.train, len(data.x_train))  # the members' hold-out
    history = fine_tune(combined, data, settings, validation, config.train.seed, run.classifier)
    tuned = accuracy(KerasPredictor(combined, run.classifier).predict(data.x_test), data.y_test)
    return combined, averaged, history, tuned
