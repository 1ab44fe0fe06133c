"""Shared fixtures: tiny synthetic data and a tiny run for the fast tier; a real MNIST run for the full tier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import toolkit  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from toolkit.config import Config


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


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return write_npz(tmp_path_factory.mktemp("data") / "tiny.npz")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data) -> Path:
    """A complete run (train, QAT, export, gate) of the CNN on synthetic data; tests must not modify it."""
    from toolkit.flow import pipeline

    out = tmp_path_factory.mktemp("runs") / "tiny"
    pipeline(out, tiny_config(), tiny_data)
    return out


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path) -> Path:
    """A copy of the tiny run that a test may tamper with."""
    import shutil

    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory) -> Path:
    """The real pipeline on real MNIST with a short but real configuration (full tier)."""
    from toolkit.flow import pipeline

    config = Config()
    config.train.epochs = 3
    out = tmp_path_factory.mktemp("mnist") / "run"
    pipeline(out, config)
    return out
