"""TFLite export: float32, float16, dynamic-range and full-integer int8 (post-training or from a QAT model)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from exporters.base import (
    INTEGER_DTYPES,
    MNIST,
    Artifact,
    Classifier,
    Format,
    TensorSpec,
    Variant,
    finish_artifact,
    is_keras3,
    save_tf_saved_model,
)
from exporters.native_log import native_stderr_to_debug_log

MODEL_FILE = "model.tflite"


def _converter(model, variant: Variant, representative: np.ndarray | None, scratch: Path):
    import tensorflow as tf

    if is_keras3(model):
        # The converter's Keras path is tf-keras's (TF_USE_LEGACY_KERAS), and a concrete function keeps the weights
        # as resource variables that int8 calibration cannot read (READ_VARIABLE fails): go through a SavedModel.
        save_tf_saved_model(model, scratch)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(scratch))
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant is Variant.FLOAT32:
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant is Variant.FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
    elif variant is Variant.INT8:
        if representative is None:
            raise ValueError("full-integer export needs representative inputs")
        converter.representative_dataset = _representative(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # Integer in, integer out: the model runs without a float op at its edges, as on integer-only
        # accelerators; the contract records scale and zero point so callers can (de)quantize.
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif variant is not Variant.DYNAMIC:
        raise ValueError(f"TFLite has no {variant.value} variant")
    return converter


def _representative(inputs: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    def generate():
        for sample in inputs:
            yield [sample[np.newaxis].astype(np.float32)]

    return generate


def _spec(detail: dict) -> TensorSpec:
    dtype = np.dtype(detail["dtype"]).name
    scale, zero_point = detail["quantization"]
    integer = dtype in INTEGER_DTYPES
    return TensorSpec(
        shape=[int(d) for d in detail["shape"][1:]],
        dtype=dtype,
        scale=float(scale) if integer else None,
        zero_point=int(zero_point) if integer else None,
    )


def export(
    model,
    dest: Path,
    variant: Variant,
    *,
    name: str,
    source: str,
    run_dir: Path,
    classifier: Classifier = MNIST,
    representative: np.ndarray | None = None,
) -> Artifact:
    """Convert a tf-keras model to a .tflite file in `dest` and write its contract beside it.

    Args:
        model: a tf-keras model (float, or QAT-wrapped for an int8 export of QAT weights) or a Keras 3 model.
        dest: the artifact directory to create.
        variant: FLOAT32, FLOAT16, DYNAMIC or INT8.
        name, source, run_dir, classifier: recorded in the contract (path is stored relative to run_dir).
        representative: model-shaped float inputs that calibrate activation ranges; required for INT8.

    Returns:
        The Artifact, with tensor specs read back from the converted file.
    """
    flatbuffer = convert(model, variant, representative)
    return write(flatbuffer, dest, variant, name=name, source=source, run_dir=run_dir, classifier=classifier)


def convert(model, variant: Variant, representative: np.ndarray | None = None) -> bytes:
    """The converter's .tflite file of a Keras model (the float32 one is what the quantizer backend starts from)."""
    with native_stderr_to_debug_log(), tempfile.TemporaryDirectory(prefix="edgekit-tflite-") as tmp:
        return _converter(model, variant, representative, Path(tmp) / "saved_model").convert()


def write(
    flatbuffer: bytes,
    dest: Path,
    variant: Variant,
    *,
    name: str,
    source: str,
    run_dir: Path,
    classifier: Classifier,
    recipe: dict | None = None,
) -> Artifact:
    """Write a .tflite model into `dest` with its contract; tensor specs are read back from the file.

    `recipe` records what quantized it (exporters.tflite_quantizer); by default the converter did.
    """
    from ai_edge_litert.interpreter import Interpreter

    dest.mkdir(parents=True)
    (dest / MODEL_FILE).write_bytes(flatbuffer)
    interpreter = Interpreter(model_path=str(dest / MODEL_FILE))
    return finish_artifact(
        dest,
        run_dir,
        name=name,
        format=Format.TFLITE,
        variant=variant,
        source=source,
        main_file=MODEL_FILE,
        input=_spec(interpreter.get_input_details()[0]),
        output=_spec(interpreter.get_output_details()[0]),
        classifier=classifier,
        quantization=recipe or (None if variant is Variant.FLOAT32 else {"backend": "tflite-converter"}),
    )
