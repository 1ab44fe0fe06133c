"""Shared fixtures: tiny synthetic data and a tiny run for the fast tier; a real MNIST run for the full tier."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import tiny_config, write_npz

import toolkit  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from toolkit.config import Config


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return write_npz(tmp_path_factory.mktemp("data") / "tiny.npz")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data) -> Path:
    """A complete run (train, QAT, export, gate) of the CNN on synthetic data; tests must not modify it."""
    from toolkit.flow.pipeline import pipeline

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
    from toolkit.flow.pipeline import pipeline

    config = Config()
    config.train.epochs = 3
    out = tmp_path_factory.mktemp("mnist") / "run"
    pipeline(out, config)
    return out


SLOW = ("mnist", "browser", "corpus", "kotlin", "wheel", "postgres")


def pytest_collection_modifyitems(config, items):
    """Every test in exactly one tier: unit as marked, slow for what it needs, fast otherwise."""
    for item in items:
        needs = [name for name in SLOW if item.get_closest_marker(name)]
        if item.get_closest_marker("unit"):
            if needs:
                raise pytest.UsageError(f"{item.nodeid}: a unit test cannot need {', '.join(needs)}")
        else:
            item.add_marker(pytest.mark.slow if needs else pytest.mark.fast)
