"""SavedModel artifacts through TensorFlow's serving signature, as TF Serving would call them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.pixels.tensors import to_model_input, to_probabilities
from toolkit.runtimes.base import BATCH_SIZE, Runtime, package_versions

NAME = "tensorflow"


def unavailable() -> str | None:
    return None


class SavedModelPredictor:
    runtime = NAME

    def __init__(self, directory: Path, artifact: Artifact):
        import tensorflow as tf

        self.artifact = artifact
        self.signature = tf.saved_model.load(str(directory)).signatures["serving_default"]
        self.input_name = next(iter(self.signature.structured_input_signature[1]))

    def predict(self, images: np.ndarray) -> np.ndarray:
        outputs = []
        for i in range(0, len(images), BATCH_SIZE):
            batch = to_model_input(images[i : i + BATCH_SIZE], self.artifact.classifier, self.artifact.input)
            outputs.append(next(iter(self.signature(**{self.input_name: batch}).values())).numpy())
        return to_probabilities(np.concatenate(outputs), self.artifact.output, self.artifact.output_kind)


def load(artifact_dir: Path, artifact: Artifact) -> SavedModelPredictor:
    return SavedModelPredictor(artifact_dir, artifact)


def engine_version() -> str:
    return package_versions("tensorflow")


RUNTIME = Runtime(NAME, (Format.SAVED_MODEL,), unavailable, load, engine_version=engine_version)
