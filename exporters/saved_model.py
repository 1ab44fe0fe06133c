"""TensorFlow SavedModel export (serving signature) of a float or QAT tf-keras model, for TF Serving and converters."""

from __future__ import annotations

from pathlib import Path

from exporters.base import Artifact, Format, Variant, finish_artifact, keras_spec

MODEL_FILE = "saved_model.pb"


def export(model, dest: Path, *, name: str, source: str, run_dir: Path, output_kind: str = "probabilities") -> Artifact:
    """Write `model` as a SavedModel directory in `dest` with its contract (float32 in, float32 out).

    Args:
        model: a tf-keras model (float, or QAT-wrapped: its fake-quantization ops are kept).
        dest: the artifact directory to create.
        name, source, run_dir, output_kind: recorded in the contract.
    """
    import tensorflow as tf

    dest.mkdir(parents=True)
    tf.saved_model.save(model, str(dest))
    return finish_artifact(
        dest,
        run_dir,
        name=name,
        format=Format.SAVED_MODEL,
        variant=Variant.FLOAT32,
        source=source,
        main_file=MODEL_FILE,
        input=keras_spec(model.input_shape),
        output=keras_spec(model.output_shape),
        output_kind=output_kind,
    )
