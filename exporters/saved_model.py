"""TensorFlow SavedModel export (serving signature) of a float or QAT Keras model, for TF Serving and converters."""

from __future__ import annotations

from pathlib import Path

from exporters.base import (
    MNIST,
    Artifact,
    Classifier,
    Format,
    Variant,
    finish_artifact,
    model_specs,
    save_tf_saved_model,
)

MODEL_FILE = "saved_model.pb"


def export(model, dest: Path, *, name: str, source: str, run_dir: Path, classifier: Classifier = MNIST) -> Artifact:
    """Write `model` as a SavedModel directory in `dest` with its contract (float32 in, float32 out).

    Args:
        model: a tf-keras model (float, or QAT-wrapped: its fake-quantization ops are kept) or a Keras 3 model.
        dest: the artifact directory to create.
        name, source, run_dir, classifier: recorded in the contract.
    """
    dest.mkdir(parents=True)
    save_tf_saved_model(model, dest)
    model_input, model_output = model_specs(model)
    return finish_artifact(
        dest,
        run_dir,
        name=name,
        format=Format.SAVED_MODEL,
        variant=Variant.FLOAT32,
        source=source,
        main_file=MODEL_FILE,
        input=model_input,
        output=model_output,
        classifier=classifier,
    )
