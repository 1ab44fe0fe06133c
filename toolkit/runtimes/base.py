"""The one interface every runtime implements: load an artifact, predict a batch of images -> probabilities."""

from __future__ import annotations

from typing import Protocol

import numpy as np


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
