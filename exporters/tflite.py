"""TFLite export: float32, float16, dynamic-range and full-integer int8 (post-training or from a QAT model), and
the "pixels" artifacts that standard runtimes (MediaPipe Tasks, LiteRT.js) open unchanged."""

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
    PixelsInput,
    TensorSpec,
    Variant,
    finish_artifact,
    is_keras3,
    pixels_classifier,
    pixels_input,
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
    pixels: PixelsInput | None = None,
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
        pixels=pixels,
        quantization=recipe or (None if variant is Variant.FLOAT32 else {"backend": "tflite-converter"}),
    )


def pixels_wrapper(model, classifier: Classifier):
    """A tf-keras model that takes RGB pixels 0..255 (H, W, 3) and returns probabilities: RGB->gray for a
    one-channel model, the classifier's normalization, a reshape to the model's input and a softmax for a logits
    model, all as built-in layers (no Lambda), around `model`."""
    import tf_keras as keras

    steps = pixels_input(classifier)
    image = classifier.image
    inputs = keras.Input((image.height, image.width, 3), name="image")
    x = inputs
    if steps.gray_weights is not None:
        gray = keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, name="rgb_to_gray")
        x = gray(x)
        gray.set_weights([np.asarray(steps.gray_weights, np.float32).reshape(1, 1, 3, 1)])
    norm = classifier.normalization
    if norm.scale != (1.0,) or norm.offset != (0.0,):
        scale, offset = list(norm.scale), list(norm.offset)
        x = keras.layers.Rescaling(
            scale if len(scale) > 1 else scale[0], offset if len(offset) > 1 else offset[0], name="normalize"
        )(x)
    if tuple(model.input_shape[1:]) != image.shape:
        x = keras.layers.Reshape(tuple(model.input_shape[1:]), name="to_model_input")(x)
    x = model(x)
    if steps.softmax_appended:
        x = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, x, name="pixels")


def export_pixels(
    model,
    dest: Path,
    variant: Variant,
    *,
    name: str,
    source: str,
    run_dir: Path,
    classifier: Classifier = MNIST,
    calibration: np.ndarray | None = None,
) -> Artifact:
    """A batch-1 .tflite that takes RGB pixels 0..255 and returns probabilities (`pixels_wrapper`), as MediaPipe
    Tasks and LiteRT.js require, with its contract.

    Args:
        model: a tf-keras model (not Keras 3, not QAT-wrapped).
        variant: FLOAT32, or INT8: int8 inside with uint8 input and output, the tensor types the Tasks runtimes and
            LiteRT.js take (they refuse int8 I/O); the uint8 input is the pixel itself (scale 1, zero point 0).
        calibration: RGB pixels 0..255 (N, H, W, 3) that calibrate INT8; a black and a white picture are added so
            that the input range is exactly 0..255.

    Raises:
        ValueError: another variant, INT8 without calibration, or a uint8 input that is not the raw pixel.
    """
    import tensorflow as tf

    wrapper = pixels_wrapper(model, classifier)
    image = classifier.image
    # A fixed batch of 1 (LiteRT.js refuses a free one) and a named serving signature: image in, probabilities out.
    serving = tf.function(
        lambda image: {"probabilities": wrapper(image, training=False)},
        input_signature=[tf.TensorSpec([1, image.height, image.width, 3], tf.float32, name="image")],
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serving.get_concrete_function()], wrapper)
    if variant is Variant.INT8:
        if calibration is None:
            raise ValueError("an int8 pixels artifact needs calibration pictures")
        ends = np.stack([np.zeros(image.shape[:2] + (3,)), np.full(image.shape[:2] + (3,), 255.0)])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(np.concatenate([ends, calibration]))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    elif variant is not Variant.FLOAT32:
        raise ValueError(f"pixels artifacts are float32 or int8, not {variant.value}")
    with native_stderr_to_debug_log():
        flatbuffer = converter.convert()
    artifact = write(
        flatbuffer,
        dest,
        variant,
        name=name,
        source=source,
        run_dir=run_dir,
        classifier=pixels_classifier(classifier),
        pixels=pixels_input(classifier),
    )
    if variant is Variant.INT8 and (artifact.input.scale, artifact.input.zero_point) != (1.0, 0):
        raise ValueError(
            f"the uint8 input is not the pixel: scale {artifact.input.scale}, zero point {artifact.input.zero_point}"
        )
    return artifact
