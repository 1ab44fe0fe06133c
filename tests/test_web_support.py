"""Shared pieces of the web tests: a tiny TF.js run built once per session, Keras references, skips with reasons."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import toolkit  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# name -> (architecture, TF.js variant, output kind) of the tiny run's artifacts.
TINY_ARTIFACTS = {
    "tfjs-float32": ("cnn", "float32", "probabilities"),
    "tfjs-float16": ("cnn", "float16", "probabilities"),
    "tfjs-uint8": ("cnn", "uint8", "probabilities"),
    # A user's model may take flat pixels and return logits: the runners must read both from the contract.
    "tfjs-flat-logits": ("flat", "float32", "logits"),
}


def tiny_model(kind: str, seed: int):
    """A small untrained model: random weights are enough to compare runtimes, and build in a second."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    if kind == "cnn":
        return keras.Sequential([
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ])
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])


@functools.lru_cache(maxsize=None)
def build_tiny_run(base: Path) -> tuple[Path, dict]:
    """A run directory holding TINY_ARTIFACTS and the Keras models they came from (built once per process)."""
    from exporters import Variant, tfjs

    run = base / "tiny-web-run"
    models = {"cnn": tiny_model("cnn", 3), "flat": tiny_model("flat", 4)}
    for name, (kind, variant, output_kind) in TINY_ARTIFACTS.items():
        tfjs.export(models[kind], run / "artifacts" / name, Variant(variant), name=name, source="float",
                    run_dir=run, output_kind=output_kind)
    return run, models


def keras_probabilities(model, images: np.ndarray, output_kind: str) -> np.ndarray:
    from toolkit.runtimes.keras import KerasPredictor

    return KerasPredictor(model, output_kind).predict(images)


def sample_images(count: int, seed: int = 0) -> np.ndarray:
    """Digit-like float32 [0, 1] images: random strokes over faint noise, with exact zeros as in MNIST."""
    rng = np.random.default_rng(seed)
    images = np.where(rng.random((count, 28, 28)) < 0.7, 0.0, rng.random((count, 28, 28)) * 0.2)
    for image in images:
        row, col = rng.integers(4, 20, 2)
        image[row : row + rng.integers(3, 9), col : col + rng.integers(2, 8)] = rng.uniform(0.5, 1.0)
    return images.astype(np.float32)


def skip_unless(reason: str | None) -> None:
    if reason:
        pytest.skip(reason)


def save_screenshot(page, name: str) -> Path:
    """Keep a screenshot under test-artifacts/ (CI uploads the folder; git ignores it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
