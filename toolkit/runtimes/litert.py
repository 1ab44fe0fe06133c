"""TFLite artifacts in the standalone LiteRT interpreter (ai-edge-litert; tflite-runtime where only it is installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.pixels.tensors import to_model_input, to_probabilities
from toolkit.runtimes.base import BATCH_SIZE, Runtime

NAME = "litert"


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    return Interpreter


def unavailable() -> str | None:
    try:
        _interpreter_class()
    except ImportError:
        return "neither ai-edge-litert nor tflite-runtime is installed"
    return None


class LiteRTPredictor:
    """A .tflite model whose batch dimension is resized so that whole batches run in one invoke()."""

    runtime = NAME

    def __init__(self, model_path: Path, artifact: Artifact, num_threads: int | None = None):
        self.artifact = artifact
        self.interpreter = _interpreter_class()(model_path=str(model_path), num_threads=num_threads)
        detail = self.interpreter.get_input_details()[0]
        self.input_index = detail["index"]
        # A file of fixed batch (a pixels artifact: batch 1) runs at its own batch: a Reshape in its graph may hold
        # that batch, which resizing would break (docs/verdict.md, "Pixels artifacts").
        self.fixed_batch = None if detail["shape_signature"][0] == -1 else int(detail["shape"][0])
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.batch = 0

    def run(self, model_input: np.ndarray) -> np.ndarray:
        """One invoke() on an already shaped (and quantized) input batch; returns the raw output tensor."""
        if len(model_input) != self.batch:
            if self.fixed_batch is None:
                self.interpreter.resize_tensor_input(self.input_index, model_input.shape, strict=True)
            self.interpreter.allocate_tensors()
            self.batch = len(model_input)
        self.interpreter.set_tensor(self.input_index, model_input)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)

    def predict(self, images: np.ndarray) -> np.ndarray:
        spec = self.artifact
        step = self.fixed_batch or BATCH_SIZE
        outputs = []
        for i in range(0, len(images), step):
            model_input = to_model_input(images[i : i + step], spec.classifier, spec.input)
            count = len(model_input)
            if self.fixed_batch and count < step:  # the last group, padded to the file's batch
                model_input = np.concatenate(
                    [model_input, np.zeros((step - count, *model_input.shape[1:]), model_input.dtype)]
                )
            outputs.append(self.run(model_input)[:count])
        return to_probabilities(np.concatenate(outputs), spec.output, spec.output_kind)


def load(artifact_dir: Path, artifact: Artifact) -> LiteRTPredictor:
    return LiteRTPredictor(artifact_dir / artifact.main_file, artifact)


RUNTIME = Runtime(NAME, (Format.TFLITE,), unavailable, load)
