"""The reference: a tf-keras model (float or QAT) predicting in TensorFlow, behind the same Predictor interface."""

from __future__ import annotations

import numpy as np

from exporters.base import keras_spec
from toolkit.runtimes.base import BATCH_SIZE, to_model_input, to_probabilities

NAME = "keras"


class KerasPredictor:
    runtime = NAME

    def __init__(self, model, output_kind: str = "probabilities"):
        self.model = model
        self.output_kind = output_kind
        self.input, self.output = keras_spec(model.input_shape), keras_spec(model.output_shape)

    def predict(self, images: np.ndarray) -> np.ndarray:
        outputs = self.model.predict(to_model_input(images, self.input), batch_size=BATCH_SIZE, verbose=0)
        return to_probabilities(outputs, self.output, self.output_kind)
