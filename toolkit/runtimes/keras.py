"""The reference: a Keras model (tf-keras float or QAT, or Keras 3) predicting in TensorFlow, as a Predictor."""

from __future__ import annotations

import numpy as np

from exporters.base import MNIST, Classifier, model_specs
from toolkit.pixels.tensors import to_model_input, to_probabilities
from toolkit.runtimes.base import BATCH_SIZE

NAME = "keras"


class KerasPredictor:
    runtime = NAME

    def __init__(self, model, classifier: Classifier = MNIST):
        self.model = model
        self.classifier = classifier
        self.input, self.output = model_specs(model)

    def predict(self, images: np.ndarray) -> np.ndarray:
        model_input = to_model_input(images, self.classifier, self.input)
        outputs = self.model.predict(model_input, batch_size=BATCH_SIZE, verbose=0)
        return to_probabilities(outputs, self.output, self.classifier.output_kind)
