"""A user's own classifier enters the flow: imported into a new run, then exported and gated like any other."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from exporters.base import Classifier, Normalization, sha256_file
from toolkit.config import Config, validation_size
from toolkit.data.datasets import Dataset, load_data
from toolkit.data.run_data import record_data
from toolkit.errors import InputError
from toolkit.flow.export import check_formats, export
from toolkit.flow.qat import qat
from toolkit.flow.validate import validate
from toolkit.modeling.keras_files import refuse_code, saved_by_keras3
from toolkit.run import Run

log = logging.getLogger("edgekit")


def import_model(
    model_path: Path,
    out: Path,
    config: Config,
    data_path: Path | None = None,
    with_qat: bool = False,
    normalization: Normalization | None = None,
    split: dict | None = None,
    trust_model: bool = False,
) -> dict:
    """A user's own image classifier through the same export and gate: the run starts from their model.

    Args:
        model_path: .h5, .keras (tf-keras or Keras 3) or a SavedModel directory (tf-keras); input (H, W, C),
            (H, W) or (H*W*C,) of the data's images; any number of classes >= 2; logits or probabilities out.
        out: the run directory to create.
        config: settings (export, parity, and qat when `with_qat`).
        data_path: the data set to calibrate int8 on, fine-tune on and gate with; None for MNIST.
        with_qat: also fine-tune a QAT copy on the data and export its int8 model (tf-keras models only).
        normalization: how the model expects pixels (default: [0, 1]).
        split: test split of an image folder without one ({"test_fraction", "seed"}).
        trust_model: allow a model whose file carries Python code (Lambda layers, custom objects); recorded in
            the run, so later steps that reload the copy apply the same decision.
    """
    from toolkit.modeling.keras_files import load_keras_model

    check_formats(config)
    Run.check_new(out)
    check_import(model_path, with_qat)
    refuse_code(model_path, trust_model)
    data = load_data(data_path, split)
    if with_qat:
        validation_size(config.train, len(data.x_train))
    model = load_keras_model(model_path, trust_model=trust_model)
    classifier = _classifier(model, data, normalization, config)
    model_path = Path(model_path)
    with Run.create(out) as run:
        record_data(run, data, data_path)
        run.set_classifier(classifier)
        run.save_model(model, "float")
        run.record(
            "import",
            {
                "model": str(model_path.resolve()),
                "keras": 3 if saved_by_keras3(model_path) else 2,
                "output_kind": classifier.output_kind,
                "sha256": sha256_file(model_path) if model_path.is_file() else None,
                "trust_model": trust_model,
                "config": {"seed": config.train.seed},  # calibration sample and fine-tuning of later steps
            },
        )
    shape, classes = tuple(model.inputs[0].shape), len(classifier.labels)
    log.info("imported %s (input %s, %d classes, %s out) -> %s", model_path, shape, classes, classifier.output_kind,
             run.path)  # fmt: skip
    if with_qat:
        qat(run.path, config)
    export(run.path, config)
    return validate(run.path, config)


def _classifier(model, data: Dataset, declared: Normalization | None, config: Config) -> Classifier:
    """What the model reads and returns: it must fit the data; its input convention is decided and said."""
    from toolkit.modeling.classifier import check_classifier
    from toolkit.modeling.convention import decide, describe

    classifier = check_classifier(model, data.x_test[:64], data.image, declared or Normalization(), data.labels)
    normalization = decide(model, data, classifier, declared, config.parity.significance)
    log.info("%s", describe(normalization))
    return dataclasses.replace(classifier, normalization=normalization)


def check_import(model_path: Path, with_qat: bool) -> None:
    """The refusals decided from the model file alone, before TensorFlow is imported (milliseconds, not 25 s).

    Raises:
        InputError: the model file is missing, or QAT is asked of a Keras 3 model.
    """
    model_path = Path(model_path).expanduser()
    if not model_path.exists():
        raise InputError(f"model not found: {model_path}")
    if with_qat and saved_by_keras3(model_path):
        raise InputError(
            f"{model_path} was saved by Keras 3; quantization-aware training (--qat) needs a tf-keras (Keras 2) "
            "model: drop --qat (float and post-training int8 work with Keras 3), or save it with `import tf_keras`"
        )
