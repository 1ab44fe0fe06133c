"""TensorFlow SavedModel export (serving signature) of a float or QAT tf-keras model, for TF Serving and converters."""

from __future__ import annotations

from pathlib import Path

from exporters.base import Artifact, Format, TensorSpec, Variant, describe_files, write_contract

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
    artifact = Artifact(
        name=name,
        format=Format.SAVED_MODEL,
        variant=Variant.FLOAT32,
        source=source,
        path=dest.relative_to(run_dir).as_posix(),
        main_file=MODEL_FILE,
        input=TensorSpec(shape=[int(d) for d in model.input_shape[1:]], dtype="float32"),
        output=TensorSpec(shape=[int(d) for d in model.output_shape[1:]], dtype="float32"),
        output_kind=output_kind,
        files=describe_files(dest),
    )
    write_contract(artifact, dest)
    return artifact
