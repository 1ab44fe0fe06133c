"""Raw pixels to model tensors and outputs to probabilities, as the contract says: normalization, the model's input
shape, and affine (de)quantization of integer tensors as TFLite defines it: real = scale * (q - zero_point)."""

from __future__ import annotations

import numpy as np

from exporters.base import Classifier, TensorSpec

_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Map real values to integers; rounds half up (floor(x + 0.5)) so Kotlin and JS can do exactly the same."""
    low, high = _RANGES[dtype]
    q = np.floor(np.asarray(values, dtype=np.float64) / scale + 0.5) + zero_point
    return np.clip(q, low, high).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Map integers back to real values (float32)."""
    return ((np.asarray(values, dtype=np.float64) - zero_point) * scale).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)


def to_model_input(images: np.ndarray, classifier: Classifier, spec: TensorSpec) -> np.ndarray:
    """Normalize raw pixels as the contract says, reshape them to the model's input, quantize an integer input.

    `images` hold N x H x W x C pixels 0..255 in any shape with N first ((N, H, W) for one channel, (N, H, W, C));
    one-channel pictures given to a three-channel input are read as R = G = B.
    """
    pixels = np.asarray(images)
    image = classifier.image
    if image.channels == 3 and pixels.size == len(pixels) * image.height * image.width:
        # A gray picture for an RGB input (a pixels artifact of a one-channel model): R = G = B, as a decoder gives it.
        pixels = np.repeat(pixels.reshape((len(pixels), image.height, image.width, 1)), 3, axis=-1)
    if pixels.size != len(pixels) * image.height * image.width * image.channels:
        raise ValueError(
            f"images of shape {pixels.shape[1:]} do not hold {image.height}x{image.width}x{image.channels}"
        )
    values = classifier.normalization.apply(pixels.reshape((len(pixels), *image.shape)))
    batch = values.reshape((len(pixels), *spec.shape))
    if spec.scale is None:
        return batch
    return quantize(batch, spec.scale, spec.zero_point, spec.dtype)


def float_input(images: np.ndarray, classifier: Classifier, shape: tuple[int, ...]) -> np.ndarray:
    """Raw pixels as a float model of input `shape` (batch dimension excluded) takes them."""
    return to_model_input(images, classifier, TensorSpec([int(d) for d in shape], "float32"))


def to_probabilities(outputs: np.ndarray, spec: TensorSpec, output_kind: str) -> np.ndarray:
    """Dequantize integer outputs and turn logits into probabilities."""
    values = dequantize(outputs, spec.scale, spec.zero_point) if spec.scale is not None else outputs
    values = np.asarray(values, dtype=np.float32).reshape(len(values), -1)
    return softmax(values) if output_kind == "logits" else values
