"""Loading a tf-keras classifier from disk (ours or a user's) and checking it fits the MNIST model contract."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from toolkit.data import to_inputs
from toolkit.errors import InputError, first_line

ACCEPTED_INPUTS = [(28, 28), (28, 28, 1), (784,)]


def _keras_version(path: Path) -> str | None:
    """The Keras version recorded in a .keras zip or an .h5 file, if any."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("metadata.json")).get("keras_version")
        if path.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                version = f.attrs.get("keras_version")
                return version.decode() if isinstance(version, bytes) else version
    except (KeyError, OSError, ValueError):
        return None
    return None


def load_keras_model(path: Path | str):
    """Load a tf-keras model from .h5, .keras or a SavedModel directory (QAT-wrapped models included).

    Raises:
        InputError: the path is missing, not a model, or was saved by Keras 3 (which tf-keras cannot read).
    """
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"model not found: {path}")
    version = _keras_version(path) if path.is_file() else None
    if version and version.split(".")[0] == "3":
        raise InputError(
            f"{path} was saved by Keras {version}; edgekit needs a tf-keras (Keras 2) model because "
            "quantization-aware training only supports Keras 2: save it with `import tf_keras` instead of `keras`"
        )
    try:
        with tfmot.quantization.keras.quantize_scope():
            return keras.models.load_model(path, compile=False)
    except Exception as error:  # tf-keras raises many types (OSError, ValueError, TypeError...) for a bad file
        if path.is_dir() and not (path / "keras_metadata.pb").exists():
            raise InputError(f"{path} is a SavedModel without Keras metadata; save it from tf-keras") from None
        raise InputError(f"{path}: not a loadable tf-keras model ({first_line(error)})") from None


def check_classifier(model, sample: np.ndarray) -> str:
    """Check the model takes 28x28 images and returns 10 classes; return its output kind.

    Args:
        model: a tf-keras model.
        sample: a few uint8 images (N, 28, 28) to probe the outputs with.

    Returns:
        "probabilities" if the outputs are already a distribution (softmax), else "logits".
    """
    shape = tuple(model.input_shape[1:]) if isinstance(model.input_shape, tuple) else None
    if shape not in ACCEPTED_INPUTS:
        raise InputError(
            f"model input shape {model.input_shape} does not hold a 28x28 image; "
            "expected (None, 28, 28), (None, 28, 28, 1) or (None, 784)"
        )
    if tuple(model.output_shape[1:]) != (10,):
        raise InputError(f"model output shape {model.output_shape} is not (None, 10)")
    outputs = model.predict(to_inputs(sample, shape), verbose=0)
    is_distribution = (outputs >= 0).all() and (outputs <= 1).all() and np.allclose(outputs.sum(1), 1, atol=1e-3)
    return "probabilities" if is_distribution else "logits"
