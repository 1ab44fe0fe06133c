"""Ensembles as one graph: K members (seeds and/or architectures) averaged into a single tf-keras model."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from toolkit.config import Config, validation_size
from toolkit.errors import InputError
from toolkit.models import Architecture
from toolkit.run import Run

log = logging.getLogger("edgekit")


def member_plan(architectures: list[Architecture], count: int, seed: int) -> list[tuple[Architecture, int]]:
    """(architecture, seed) per member: architectures in turn, seeds counting up from `seed`."""
    if count < 2:
        raise InputError(f"--members {count}: an ensemble needs at least 2 members")
    if not architectures:
        raise InputError("give at least one --arch")
    return [(Architecture(architectures[i % len(architectures)]), seed + i) for i in range(count)]


def combine(members: list, name: str = "ensemble"):
    """One functional model: the members' layers side by side on one 28x28x1 input, their probabilities averaged.

    Each member's Dense -> BatchNorm pairs are folded first (exact at inference), and its layers are renamed
    `m<i>_...` so names stay unique; flattened this way the graph quantizes and converts like a single model.
    """
    import tf_keras as keras
    from tf_keras import layers

    from toolkit.qat_model import fold_dense_batch_norm

    image = keras.Input(shape=(28, 28, 1), name="image")
    outputs = []
    for i, member in enumerate(members):
        member = fold_dense_batch_norm(member)
        x = image
        shape = tuple(member.input_shape[1:])
        if shape != (28, 28, 1):
            x = layers.Reshape(shape, name=f"m{i}_reshape")(x)
        for layer in member.layers:
            layer._name = f"m{i}_{layer.name}"
            x = layer(x)
        outputs.append(x)
    return keras.Model(image, layers.Average(name="probabilities")(outputs), name=name)


def is_ensemble(model) -> bool:
    from tf_keras import layers

    return any(isinstance(layer, layers.Average) for layer in model.layers)


def quantize_ensemble(model):
    """A QAT copy of a combined ensemble: tfmot has no Average support, so it only quantizes the average's output."""
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import default_8bit_quantize_configs

    q = tfmot.quantization.keras
    output_only = default_8bit_quantize_configs.Default8BitOutputQuantizeConfig

    def annotate(layer):
        if isinstance(layer, keras.layers.Average):
            return q.quantize_annotate_layer(layer, quantize_config=output_only())
        return layer if isinstance(layer, keras.layers.InputLayer) else q.quantize_annotate_layer(layer)

    annotated = keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    with q.quantize_scope():
        return q.quantize_apply(annotated)


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
            label smoothing); 0, the default, ships the plain average. Measured on MNIST with three 20-epoch
            members, one epoch moved the ensemble by +0.04 points (members without a finishing epoch) and by
            -0.04 (members with one): no gain beyond the noise (README).

    Returns:
        The parity report, with each member's and the ensemble's test accuracy under "ensemble".
    """
    from toolkit import flow
    from toolkit.metrics import accuracy
    from toolkit.runtimes.keras import KerasPredictor
    from toolkit.training import fine_tune, train_model

    plan = member_plan(architectures, count, config.train.seed)
    data = flow.load_data(data_path)
    with Run.create(out) as run:  # a failure while training the members leaves no run behind
        flow.record_data(run, data, data_path)
        classifier = data.classifier()
        run.set_classifier(classifier)
        images = flow.gate_images(data)
        start = time.perf_counter()
        members, records = [], []
        for i, (architecture, seed) in enumerate(plan):
            log.info("member %d/%d: %s, seed %d", i + 1, len(plan), architecture.value, seed)
            member_config = config.train.model_copy(update={"architecture": architecture, "seed": seed})
            model, history = train_model(
                data, member_config, run.path / "checkpoints" / f"member-{i}", classifier=classifier
            )
            run.save_model(model, f"member-{i}")
            test_accuracy = accuracy(KerasPredictor(model, classifier).predict(images), data.y_test)
            log.info("member %d: %.2f%% test accuracy", i, test_accuracy)
            members.append(model)
            records.append(
                {
                    "architecture": architecture.value,
                    "seed": seed,
                    "epochs_run": len(history["loss"]),
                    "test_accuracy": round(test_accuracy, 4),
                    "model": f"models/member-{i}.h5",
                }
            )
        combined = combine(members)
        averaged = accuracy(KerasPredictor(combined, classifier).predict(images), data.y_test)
        log.info("average of %d members: %.2f%% test accuracy", len(members), averaged)
        history, test_accuracy = {}, averaged
        if joint_epochs:
            log.info("fine-tuning the ensemble as one model: %d epoch(s)", joint_epochs)
            settings = config.qat.model_copy(update={"epochs": joint_epochs})
            validation = validation_size(config.train, len(data.x_train))  # the members' hold-out
            history = fine_tune(combined, data, settings, validation, config.train.seed, classifier)
            test_accuracy = accuracy(KerasPredictor(combined, classifier).predict(images), data.y_test)
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
        flow.qat(run.path, config)
    flow.export(run.path, config)
    return flow.validate(run.path, config)
