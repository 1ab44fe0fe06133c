"""The reference: a tf-keras model (float or QAT) predicting in TensorFlow, behind the same Predictor interface."""

from __future__ import annotations

import numpy as np

from exporters.base import TensorSpec
from toolkit.runtimes.base import to_model_input, to_probabilities

RUNTIME = "keras"


class KerasPredictor:
    runtime = RUNTIME
    max_images = None

    def __init__(self, model, output_kind: str = "probabilities"):
        self.model = model
        self.output_kind = output_kind
        self.input = TensorSpec(shape=[int(d) for d in model.input_shape[1:]], dtype="float32")
        self.output = TensorSpec(shape=[int(d) for d in model.output_shape[1:]], dtype="float32")

    def predict(self, images: np.ndarray) -> np.ndarray:
        outputs = self.model.predict(to_model_input(images, self.input), batch_size=1000, verbose=0)
        return to_probabilities(outputs, self.output, self.output_kind)
