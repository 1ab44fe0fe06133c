"""Loading a Keras classifier from disk (ours or a user's)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from toolkit.errors import InputError, first_line


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
    """Load a tf-keras model from .h5, .keras or a SavedModel directory (QAT-wrapped models included), or a
    Keras 3 `.keras` file with Keras 3 (toolkit.classifier).

    Raises:
        InputError: the path is missing or not a model.
    """
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"model not found: {path}")
    version = _keras_version(path) if path.is_file() else None
    if version and version.split(".")[0] == "3":
        from toolkit.classifier import load_keras3_model

        return load_keras3_model(path)
    try:
        with tfmot.quantization.keras.quantize_scope():
            return keras.models.load_model(path, compile=False)
    except Exception as error:  # tf-keras raises many types (OSError, ValueError, TypeError...) for a bad file
        if path.is_dir() and not (path / "keras_metadata.pb").exists():
            raise InputError(f"{path} is a SavedModel without Keras metadata; save it from tf-keras") from None
        raise InputError(f"{path}: not a loadable tf-keras model ({first_line(error)})") from None
