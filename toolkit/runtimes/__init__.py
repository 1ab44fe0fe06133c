"""Runtimes by name, and which of them evaluate each artifact format."""

from __future__ import annotations

import importlib
from pathlib import Path

from exporters.base import Artifact, Format
from toolkit.runtimes.base import Predictor

# name -> module with RUNTIME, unavailable() -> reason | None, and load(artifact_dir, artifact) -> Predictor
_MODULES = {
    "litert": "toolkit.runtimes.litert",
    "tfjs-python": "toolkit.runtimes.tfjs_python",
    "tensorflow": "toolkit.runtimes.saved_model",
    "tfjs-node-wasm": "toolkit.runtimes.tfjs_node",
    "tfjs-browser-wasm": "toolkit.runtimes.tfjs_browser",
}
RUNTIMES_BY_FORMAT = {
    Format.TFLITE: ["litert"],
    # The Python reload checks the files; Node and Chromium check the JavaScript kernels users actually run.
    Format.TFJS: ["tfjs-python", "tfjs-node-wasm", "tfjs-browser-wasm"],
    Format.SAVED_MODEL: ["tensorflow"],
}


def unavailable(runtime: str) -> str | None:
    """Why `runtime` cannot run on this machine, or None when it can."""
    return importlib.import_module(_MODULES[runtime]).unavailable()


def load_predictor(runtime: str, artifact_dir: Path, artifact: Artifact) -> Predictor:
    return importlib.import_module(_MODULES[runtime]).load(artifact_dir, artifact)


__all__ = ["Predictor", "RUNTIMES_BY_FORMAT", "load_predictor", "unavailable"]
