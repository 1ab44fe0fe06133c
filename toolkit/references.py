"""The Keras models' probabilities on the test set, kept in the run (references.npz) when export has them at hand.

The gate needs them for every verdict; recomputing means importing TensorFlow and loading the float and QAT models
(most of a partial gate's time). They are used only while the model files and the test set still have the sha256
they were computed from, and the arrays have the expected shape and range; anything else is recomputed.
"""

from __future__ import annotations

import io
import json

import numpy as np

from exporters.base import sha256_file
from toolkit.run import Run, atomic_write_bytes

REFERENCES = "references.npz"


def _key(run: Run, sources: list[str]) -> dict[str, str]:
    key = {source: sha256_file(run.model_path(source)) for source in sources}
    key["x_test_sha256"] = (run.data_record or {}).get("x_test_sha256", "")
    return key


def store(run: Run, probabilities: dict[str, np.ndarray]) -> None:
    """Keep the references' probabilities, keyed by the model files and test set they came from."""
    buffer = io.BytesIO()
    key = json.dumps(_key(run, sorted(probabilities)))
    np.savez(buffer, key=np.array(key), **{f"p_{s}": p.astype(np.float32) for s, p in probabilities.items()})
    atomic_write_bytes(run.path / REFERENCES, buffer.getvalue())


def load(run: Run, sources: list[str], count: int) -> dict[str, np.ndarray] | None:
    """The kept probabilities of `sources` on `count` test images, or None when they are missing or stale."""
    path = run.path / REFERENCES
    if not path.is_file() or not all(run.has_model(s) for s in sources):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            key = json.loads(str(data["key"]))
            found = {s: data[f"p_{s}"] for s in sources}
    except (OSError, ValueError, KeyError):
        return None
    if any(key.get(k) != v for k, v in _key(run, sources).items()):
        return None
    for p in found.values():
        if p.dtype != np.float32 or p.ndim != 2 or len(p) != count or not np.all((p >= 0) & (p <= 1)):
            return None
    return found
