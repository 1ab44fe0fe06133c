"""TF.js layers models loaded back into Python by tensorflowjs: checks the files, not the JavaScript kernels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.runtimes.base import BATCH_SIZE, Runtime, package_versions, to_model_input, to_probabilities

NAME = "tfjs-python"


def unavailable() -> str | None:
    return None


class TFJSPythonPredictor:
    runtime = NAME

    def __init__(self, model_json: Path, artifact: Artifact):
        import tensorflowjs as tfjs

        self.artifact = artifact
        self.model = tfjs.converters.load_keras_model(str(model_json))

    def predict(self, images: np.ndarray) -> np.ndarray:
        outputs = self.model.predict(
            to_model_input(images, self.artifact.classifier, self.artifact.input), batch_size=BATCH_SIZE, verbose=0
        )
        return to_probabilities(outputs, self.artifact.output, self.artifact.output_kind)


def load(artifact_dir: Path, artifact: Artifact) -> TFJSPythonPredictor:
    return TFJSPythonPredictor(artifact_dir / artifact.main_file, artifact)


def refuses(artifact: Artifact) -> str | None:
    if artifact.model_type != "layers-model":
        return "tensorflowjs loads layers models only"
    return None


def engine_version() -> str:
    return package_versions("tensorflowjs", "tensorflow", "tf-keras")


# Loads the files back in Python: a diagnostic of the files, not of the JavaScript kernels users run.
RUNTIME = Runtime(
    NAME, (Format.TFJS,), unavailable, load, verifies=False, refuses=refuses, engine_version=engine_version
)
