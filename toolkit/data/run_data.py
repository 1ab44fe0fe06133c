"""The data a run was made with: recorded when the run starts, reloaded and checked by every later step; samples of
it that calibrate int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporters.base import Classifier
from toolkit.data.datasets import Dataset, load_data
from toolkit.errors import InputError
from toolkit.pixels.tensors import float_input
from toolkit.run import Run


def record_data(run: Run, data: Dataset, path: Path | None) -> None:
    run.manifest["data"] = {"path": None if path is None else str(Path(path).resolve()), **data.fingerprint()}
    run.save()


def load_run_data(run: Run) -> Dataset:
    """Reload the data a run was made with, and check it is still the same test set."""
    recorded = run.data_record
    if not recorded:
        raise InputError(f"{run.path}: the run records no data set")
    split = recorded.get("split")
    data = load_data(recorded["path"], None if split is None else {k: split[k] for k in ("test_fraction", "seed")})
    if data.fingerprint()["x_test_sha256"] != recorded["x_test_sha256"]:
        raise InputError(f"{recorded['path'] or 'MNIST'}: the test set changed since the run was made")
    return data


def representative_inputs(
    data: Dataset, count: int, classifier: Classifier, shape: tuple[int, ...], seed: int
) -> np.ndarray:
    """A random sample of training images, normalized as the model expects and model-shaped, that calibrates int8
    activation ranges."""
    rng = np.random.default_rng(seed)
    sample = data.x_train[rng.choice(len(data.x_train), min(count, len(data.x_train)), replace=False)]
    return float_input(sample, classifier, shape)


def representative_pixels(data: Dataset, count: int, classifier: Classifier, seed: int) -> np.ndarray:
    """The training images `representative_inputs` draws, as RGB pixels 0..255 (N, H, W, 3): what calibrates a
    pixels artifact (one-channel pictures as R = G = B)."""
    rng = np.random.default_rng(seed)
    sample = data.x_train[rng.choice(len(data.x_train), min(count, len(data.x_train)), replace=False)]
    image = classifier.image
    pixels = np.asarray(sample, np.float32).reshape((len(sample), *image.shape))
    return pixels if image.channels == 3 else np.repeat(pixels, 3, axis=-1)


def balanced_inputs(
    data: Dataset, per_class: int, classifier: Classifier, shape: tuple[int, ...], seed: int
) -> np.ndarray:
    """Up to `per_class` training images of every class, model-shaped and normalized."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(data.y_train == k), min(per_class, int(np.sum(data.y_train == k))), replace=False)
        for k in np.unique(data.y_train)
    ]
    return float_input(data.x_train[np.concatenate(picks)], classifier, shape)
