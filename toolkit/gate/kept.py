"""Probabilities kept in the run so that a later gate need not start TensorFlow to compute them again.

references.npz: the Keras models' probabilities on the test set, kept by export while it has the models loaded. The
gate needs them for every verdict; recomputing means importing TensorFlow and loading the float and QAT models.
They are used only while the model files and the test set still have the sha256 they were computed from.

evaluations.npz: each gate's evaluations in the in-process TensorFlow runtime (Runtime.engine_version set:
tensorflow on SavedModels), whose outputs on the same files are a function of the files, the images and the engine's
version. The next gate scores them again instead of importing TensorFlow (6 s of CPU, and more to load each model)
while the artifact's contract (which holds the sha256 of every file, checked before any evaluation), the test set
and the versions are those they were computed with.

Both are sealed with this machine's key (toolkit.gate.trust): a file edited by hand, or written elsewhere, is
recomputed, never trusted. Arrays must also be probabilities of the expected shape; anything else is recomputed.
"""

from __future__ import annotations

import io
import json
import logging

import numpy as np

from exporters.base import CONTRACT_FILE, Artifact, sha256_file
from toolkit.gate.trust import are_probabilities, seal, unseal
from toolkit.run import Run, atomic_write_bytes

log = logging.getLogger("edgekit")


def _key(run: Run, sources: list[str]) -> dict[str, str]:
    key = {source: sha256_file(run.model_path(source)) for source in sources}
    key["x_test_sha256"] = (run.data_record or {}).get("x_test_sha256", "")
    return key


def store(run: Run, probabilities: dict[str, np.ndarray]) -> None:
    """Keep the references' probabilities, keyed by the model files and test set they came from."""
    key = json.dumps(_key(run, sorted(probabilities)))
    _write(
        run.references_path,
        {"key": np.array(key), **{f"p_{s}": p.astype(np.float32) for s, p in probabilities.items()}},
    )


def load(run: Run, sources: list[str], count: int) -> dict[str, np.ndarray] | None:
    """The kept probabilities of `sources` on `count` test images, or None when they are missing or stale."""
    if not all(run.has_model(s) for s in sources):
        return None
    arrays = _read(run.references_path)
    try:
        key = json.loads(str(arrays["key"]))
        found = {s: arrays[f"p_{s}"] for s in sources}
    except (KeyError, ValueError, TypeError):
        return None
    if any(key.get(k) != v for k, v in _key(run, sources).items()):
        return None
    return found if all(are_probabilities(p, count) for p in found.values()) else None


def _evaluation_key(run: Run, artifact: Artifact, engine: str, count: int) -> str:
    contract = run.artifact_dir(artifact) / CONTRACT_FILE
    return json.dumps(
        {
            "contract_sha256": sha256_file(contract) if contract.is_file() else None,
            "engine": engine,
            "x_test_sha256": (run.data_record or {}).get("x_test_sha256", ""),
            "images": count,
        },
        sort_keys=True,
    )


def store_evaluations(run: Run, kept: list[tuple[Artifact, str, str, np.ndarray, float, str]]) -> None:
    """Keep (artifact, runtime, engine version, probabilities, seconds, when evaluated) for the next gate, beside
    what was kept of evaluations this gate did not run."""
    path = run.evaluations_path
    entries = {
        (artifact.name, runtime): (
            {"key": _evaluation_key(run, artifact, engine, len(p)), "seconds": seconds, "created": created},
            p.astype(np.float32),
        )
        for artifact, runtime, engine, p, seconds, created in kept
    }
    for name_runtime, entry in _read_evaluations(path).items():
        entries.setdefault(name_runtime, entry)  # what this gate did not evaluate (`validate -r`) stays
    if not entries:
        return
    arrays, index = {}, []
    for i, ((name, runtime), (entry, probabilities)) in enumerate(entries.items()):
        index.append({"name": name, "runtime": runtime, **entry})
        arrays[f"p{i}"] = probabilities
    _write(path, {"index": np.array(json.dumps(index)), **arrays})


def load_evaluations(
    run: Run, wanted: list[tuple[Artifact, str, str]], count: int
) -> dict[tuple[str, str], tuple[np.ndarray, float, str]]:
    """Of the (artifact, runtime, engine version) evaluations wanted, those kept for the same contract, test set
    and engine: {(name, runtime): (probabilities, seconds, when evaluated)}."""
    arrays = _read_evaluations(run.evaluations_path) if wanted else {}
    found = {}
    for artifact, runtime, engine in wanted:
        entry, probabilities = arrays.get((artifact.name, runtime), (None, None))
        if entry is None or entry.get("key") != _evaluation_key(run, artifact, engine, count):
            continue
        if not are_probabilities(probabilities, count, int(np.prod(artifact.output.shape))):
            continue
        when = str(entry.get("created", ""))
        found[(artifact.name, runtime)] = (probabilities, float(entry.get("seconds", 0.0)), when)
    return found


def _read_evaluations(path) -> dict[tuple[str, str], tuple[dict, np.ndarray]]:
    """{(name, runtime): (index entry, probabilities)} of a kept file; empty when absent or unreadable."""
    arrays = _read(path)
    try:
        index = json.loads(str(arrays["index"]))
        return {(e["name"], e["runtime"]): (e, arrays[f"p{i}"]) for i, e in enumerate(index)}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def _write(path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **seal(arrays))
    atomic_write_bytes(path, buffer.getvalue())


def _read(path) -> dict[str, np.ndarray]:
    """The arrays of a kept file that this machine sealed; empty when absent, unreadable or not sealed here."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError, EOFError):
        return {}
    unsealed = unseal(arrays)
    if unsealed is None:
        log.info("%s is not sealed by this machine's edgekit (edited, or made elsewhere): computed again", path.name)
        return {}
    return unsealed
