"""TF.js artifacts run by the JavaScript kernels themselves: @tensorflow/tfjs with its wasm backend in Node.js."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.errors import InputError, StepError
from toolkit.pixels.tensors import to_model_input, to_probabilities
from toolkit.runtimes.base import Runtime, by_input, predict_one
from toolkit.web import assets as web_assets

NAME = "tfjs-node-wasm"
TIMEOUT_S = 600  # 10k images take ~5 s; a hung runner must not hang the parity gate


def node_executable() -> str | None:
    return shutil.which("node")


def unavailable() -> str | None:
    if node_executable() is None:
        return "Node.js not found on PATH"
    return web_assets.missing()


class TFJSNodePredictor:
    """A TF.js artifact evaluated by the Node runner: images and outputs cross as raw little-endian float32 files."""

    runtime = NAME

    def __init__(self, artifact_dir: Path, artifact: Artifact):
        reason = unavailable()
        if reason:
            raise StepError(f"{NAME}: {reason}")
        try:
            self.assets = web_assets.locate()
        except InputError as error:
            raise StepError(f"{NAME}: {error}") from None
        self.artifact_dir = Path(artifact_dir).resolve()  # the runner works in the web tree, not in our cwd
        self.artifact = artifact
        self.last_run: dict = {}  # the runner's summary of the last call: backend, count, seconds

    def predict(self, images: np.ndarray) -> np.ndarray:
        return predict_one(predict_many, self, images)


def predict_many(predictors: list[TFJSNodePredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    """Evaluate several artifacts (taking the same input) in one Node process: start-up and the wasm backend cost
    more than a model. Returns each artifact's probabilities, or the error that artifact met, in the order given.
    """
    model_input = (
        to_model_input(images, predictors[0].artifact.classifier, predictors[0].artifact.input) if predictors else None
    )
    if not predictors or len(model_input) == 0:
        return [np.zeros((0, *p.artifact.output.shape), dtype=np.float32) for p in predictors]
    count = len(model_input)
    assets = predictors[0].assets
    with tempfile.TemporaryDirectory(prefix="edgekit-tfjs-node-") as tmp:
        images_path = Path(tmp) / "images.f32"
        model_input.astype("<f4").tofile(images_path)
        command = [node_executable(), str(assets.runner), "--images", str(images_path), "--count", str(count)]
        for i, predictor in enumerate(predictors):
            command += ["--model", str(predictor.artifact_dir), "--out", str(Path(tmp) / f"{i}.f32")]
        names = ", ".join(p.artifact.name for p in predictors)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_S * len(predictors), cwd=assets.root
            )
        except subprocess.TimeoutExpired:
            raise StepError(f"{NAME}: {names} took longer than {TIMEOUT_S} s each") from None
        summaries = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or len(summaries) != len(predictors):
            # The runner reports its error on a line of its own; TF.js messages continue on further lines.
            lines = done.stderr.strip().splitlines()
            detail = next(
                (line for line in lines if line.startswith("evaluate.mjs:")), lines[-1] if lines else "no output"
            )
            raise StepError(f"{NAME}: {names} failed: {detail}")
        results: list[np.ndarray | Exception] = []
        for i, (predictor, summary) in enumerate(zip(predictors, summaries, strict=True)):
            name = predictor.artifact.name
            if "error" in summary:
                results.append(StepError(f"{NAME}: {name} failed: evaluate.mjs: {summary['error']}"))
                continue
            predictor.last_run = {k: summary[k] for k in ("backend", "count", "seconds")}
            outputs = np.fromfile(Path(tmp) / f"{i}.f32", dtype="<f4").reshape(count, -1)
            artifact = predictor.artifact
            results.append(to_probabilities(outputs, artifact.output, artifact.output_kind))
    return results


def load(artifact_dir: Path, artifact: Artifact) -> TFJSNodePredictor:
    return TFJSNodePredictor(artifact_dir, artifact)


RUNTIME = Runtime(NAME, (Format.TFJS,), unavailable, load, by_input(predict_many), backend="wasm")
