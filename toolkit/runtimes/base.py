"""The one interface every runtime implements: load an artifact, predict a batch of images -> probabilities."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from exporters.base import TensorSpec
from toolkit.quantization import dequantize, quantize, softmax


class Predictor(Protocol):
    """A loaded model in one runtime.

    `predict` takes MNIST images as float32 (N, 28, 28) in [0, 1] and returns float32 (N, 10) probabilities;
    the predictor reshapes to the model's input, (de)quantizes integer tensors and applies softmax to logits, so
    callers never handle a format's details. `max_images` caps how many images one evaluation may use
    (None: all), for runtimes too slow for the full test set.
    """

    runtime: str
    max_images: int | None

    def predict(self, images: np.ndarray) -> np.ndarray: ...


def to_model_input(images: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Reshape [0, 1] images to the model's input shape and quantize them if the input is integer."""
    batch = np.asarray(images, dtype=np.float32).reshape((len(images), *spec.shape))
    if spec.scale is None:
        return batch
    return quantize(batch, spec.scale, spec.zero_point, spec.dtype)


def to_probabilities(outputs: np.ndarray, spec: TensorSpec, output_kind: str) -> np.ndarray:
    """Dequantize integer outputs and turn logits into probabilities."""
    values = dequantize(outputs, spec.scale, spec.zero_point) if spec.scale is not None else outputs
    values = np.asarray(values, dtype=np.float32).reshape(len(values), -1)
    return softmax(values) if output_kind == "logits" else values
