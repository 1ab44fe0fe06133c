"""TF.js artifacts run by the JavaScript kernels themselves: @tensorflow/tfjs with its wasm backend in Node.js."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.errors import StepError
from toolkit.runtimes.base import Runtime, to_model_input, to_probabilities

NAME = "tfjs-node-wasm"
WEB_DEMO = Path(__file__).resolve().parents[2] / "web_demo"
RUNNER = WEB_DEMO / "node" / "evaluate.mjs"
PACKAGES = ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm")
TIMEOUT_S = 600  # 10k images take ~5 s; a hung runner must not hang the parity gate


def node_executable() -> str | None:
    return shutil.which("node")


def unavailable() -> str | None:
    if node_executable() is None:
        return "Node.js not found on PATH"
    if not RUNNER.is_file():
        return f"the Node runner is not in this installation ({RUNNER} is missing)"
    if not all((WEB_DEMO / "node_modules" / package / "package.json").is_file() for package in PACKAGES):
        return "web_demo packages missing: run `npm ci --prefix web_demo`"
    return None


class TFJSNodePredictor:
    """Each predict() call is one Node process: images and outputs cross as raw little-endian float32 files."""

    runtime = NAME

    def __init__(self, artifact_dir: Path, artifact: Artifact):
        reason = unavailable()
        if reason:
            raise StepError(f"{NAME}: {reason}")
        self.artifact_dir = Path(artifact_dir).resolve()  # the runner works in web_demo/, not in our cwd
        self.artifact = artifact
        self.last_run: dict = {}  # the runner's summary of the last call: backend, count, seconds

    def predict(self, images: np.ndarray) -> np.ndarray:
        model_input = to_model_input(images, self.artifact.classifier, self.artifact.input)
        count = len(model_input)
        if count == 0:
            return np.zeros((0, *self.artifact.output.shape), dtype=np.float32)
        with tempfile.TemporaryDirectory(prefix="edgekit-tfjs-node-") as tmp:
            images_path, outputs_path = Path(tmp) / "images.f32", Path(tmp) / "outputs.f32"
            model_input.astype("<f4").tofile(images_path)
            command = [
                node_executable(),
                str(RUNNER),
                "--model",
                str(self.artifact_dir),
                "--images",
                str(images_path),
                "--count",
                str(count),
                "--out",
                str(outputs_path),
            ]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=WEB_DEMO)
            except subprocess.TimeoutExpired:
                raise StepError(f"{NAME}: {self.artifact.name} took longer than {TIMEOUT_S} s") from None
            if done.returncode != 0:
                # The runner reports its error on a line of its own; TF.js messages continue on further lines.
                lines = done.stderr.strip().splitlines()
                detail = next(
                    (line for line in lines if line.startswith("evaluate.mjs:")), lines[-1] if lines else "no output"
                )
                raise StepError(f"{NAME}: {self.artifact.name} failed: {detail}")
            self.last_run = json.loads(done.stdout.strip().splitlines()[-1])
            outputs = np.fromfile(outputs_path, dtype="<f4")
        return to_probabilities(outputs.reshape(count, -1), self.artifact.output, self.artifact.output_kind)


def load(artifact_dir: Path, artifact: Artifact) -> TFJSNodePredictor:
    return TFJSNodePredictor(artifact_dir, artifact)


RUNTIME = Runtime(NAME, (Format.TFJS,), unavailable, load)
