"""Helpers shared by the tests: synthetic digits and data files, tiny settings, a tiny TF.js run, Keras references."""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest

import toolkit  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from exporters.base import MNIST
from toolkit.config import Config

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
        return keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Conv2D(6, 3, activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(8, 3, activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])


@functools.cache
def build_tiny_run(base: Path) -> tuple[Path, dict]:
    """A run directory holding TINY_ARTIFACTS and the Keras models they came from (built once per process)."""
    from exporters import Variant, tfjs
    from toolkit.run import Run

    run = Run.create(base / "tiny-web-run").path
    models = {"cnn": tiny_model("cnn", 3), "flat": tiny_model("flat", 4)}
    for name, (kind, variant, output_kind) in TINY_ARTIFACTS.items():
        tfjs.export(
            models[kind],
            run / "artifacts" / name,
            Variant(variant),
            name=name,
            source="float",
            run_dir=run,
            classifier=dataclasses.replace(MNIST, output_kind=output_kind),
        )
    return run, models


def keras_probabilities(model, images: np.ndarray, output_kind: str) -> np.ndarray:
    from toolkit.runtimes.keras import KerasPredictor

    return KerasPredictor(model, dataclasses.replace(MNIST, output_kind=output_kind)).predict(images)


def sample_images(count: int, seed: int = 0) -> np.ndarray:
    """Digit-like float32 pixels 0..255 (not whole numbers, as a resampled drawing): random strokes over faint noise,
    with exact zeros as in MNIST."""
    rng = np.random.default_rng(seed)
    images = np.where(rng.random((count, 28, 28)) < 0.7, 0.0, rng.random((count, 28, 28)) * 0.2)
    for image in images:
        row, col = rng.integers(4, 20, 2)
        image[row : row + rng.integers(3, 9), col : col + rng.integers(2, 8)] = rng.uniform(0.5, 1.0)
    return (images * 255).astype(np.float32)


def skip_unless(reason: str | None) -> None:
    if reason:
        pytest.skip(reason)


def save_screenshot(page, name: str) -> Path:
    """Keep a screenshot under test-artifacts/ (CI uploads the folder; git ignores it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


# Mouse strokes for digits, in the drawing pad's 280x280 coordinates: one list of (x, y) points per stroke.
DIGIT_STROKES = {
    0: [[(140 + 60 * math.sin(2 * math.pi * i / 32), 140 - 95 * math.cos(2 * math.pi * i / 32)) for i in range(33)]],
    1: [[(150, 40), (140, 240)]],
    2: [[(80, 90), (120, 50), (180, 55), (190, 110), (80, 230), (210, 230)]],
    3: [[(80, 60), (170, 50), (200, 90), (150, 135), (205, 180), (170, 230), (80, 225)]],
    4: [[(110, 40), (80, 160), (210, 160)], [(180, 70), (180, 240)]],
    7: [[(70, 60), (210, 60), (120, 230)]],
}


def draw_strokes(page, strokes, selector: str = "#pad") -> None:
    """Draw with Playwright's mouse: press, move through the points in small steps, release."""
    box = page.locator(selector).bounding_box()
    scale = box["width"] / 280
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=5)
        page.mouse.up()


class PageErrors:
    """Console errors and uncaught exceptions of a page, collected from the moment it is attached."""

    def __init__(self, page):
        self.messages: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.messages.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k is a bright bar at row 2 + 2k plus noise, so tiny models reach high accuracy."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = rng.integers(0, 40, (count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[2 + 2 * label : 4 + 2 * label, 4:24] = 230
    return images, labels


def write_npz(path: Path, train: int = 240, test: int = 120) -> Path:
    x_train, y_train = synthetic_digits(train, 1)
    x_test, y_test = synthetic_digits(test, 2)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def tiny_config() -> Config:
    """Seconds-long settings: a couple of epochs, a small validation split and representative set."""
    config = Config()
    config.train.epochs = 2
    config.train.batch_size = 32
    config.train.validation_size = 40
    config.qat.epochs = 1
    config.qat.batch_size = 32
    config.export.representative_size = 50
    return config
