"""Per-evaluation predictions kept in the run (predictions.npz) and the per-class figures drawn from them."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from toolkit.errors import InputError
from toolkit.launcher import command
from toolkit.run import Run, atomic_write_bytes

TOP = 3  # classes kept per image: enough to show what an artifact hesitated between
REFERENCE_RUNTIME = "keras"  # the runtime name under which the Keras references are stored


def _key(name: str, runtime: str) -> str:
    return f"{name}|{runtime}"


def compact(probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """The top classes of each image with their probabilities (float16): ~10x smaller than every probability."""
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :TOP]
    return {"top_i": top.astype(np.uint8), "top_p": np.take_along_axis(probabilities, top, 1).astype(np.float16)}


class Predictions:
    """Labels and, per (name, runtime), each image's top classes; references are stored under runtime "keras"."""

    def __init__(self, labels: np.ndarray, entries: dict[tuple[str, str], dict[str, np.ndarray]]):
        self.labels = np.asarray(labels)
        self.entries = entries

    @classmethod
    def from_probabilities(
        cls, labels: np.ndarray, references: dict[str, np.ndarray], evaluations: dict[tuple[str, str], np.ndarray]
    ) -> Predictions:
        entries = {(name, REFERENCE_RUNTIME): compact(p) for name, p in references.items()}
        entries.update({key: compact(p) for key, p in evaluations.items()})
        return cls(labels, entries)

    def predicted(self, name: str, runtime: str) -> np.ndarray:
        return self.entries[(name, runtime)]["top_i"][:, 0].astype(np.int64)

    def reference(self, name: str) -> np.ndarray:
        return self.predicted(name, REFERENCE_RUNTIME)

    def keep_previous(self, previous: Predictions | None, kept: set[tuple[str, str]]) -> None:
        """Carry over the previous file's evaluations the report kept (`validate -r`): (name, runtime) in `kept`."""
        if previous is None or len(previous.labels) != len(self.labels):
            return
        for key, entry in previous.entries.items():
            if key in kept:
                self.entries.setdefault(key, entry)

    def save(self, run: Run) -> None:
        arrays = {"labels": self.labels.astype(np.uint8 if self.labels.max(initial=0) < 256 else np.int64)}
        for (name, runtime), entry in self.entries.items():
            for field, values in entry.items():
                arrays[f"{_key(name, runtime)}|{field}"] = values
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(run.predictions_path, buffer.getvalue())

    @classmethod
    def load(cls, run: Run) -> Predictions | None:
        """The run's predictions, or None when the gate has not kept any. Never unpickles (allow_pickle=False)."""
        path = run.predictions_path
        if not path.is_file():
            return None
        entries: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        try:
            with np.load(path, allow_pickle=False) as data:
                labels = data["labels"]
                for key in data.files:
                    if key.count("|") == 2:
                        name, runtime, field = key.split("|")
                        entries.setdefault((name, runtime), {})[field] = data[key]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise InputError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
        if any(set(e) != {"top_i", "top_p"} or len(e["top_i"]) != len(labels) for e in entries.values()):
            raise InputError(f"{path}: not the predictions edgekit keeps (run `{command('validate', run.path)}`)")
        return cls(labels, entries)


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    return np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def per_class(matrix: np.ndarray) -> dict[str, list[float]]:
    """Precision, recall and F1 per class in percent (0 where a class is never predicted), and support."""
    true_positive = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(0), matrix.sum(1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return {
        "precision": [round(float(v) * 100, 3) for v in precision],
        "recall": [round(float(v) * 100, 3) for v in recall],
        "f1": [round(float(v) * 100, 3) for v in f1],
        "support": [int(v) for v in actual],
    }


def per_class_report(predictions: Predictions, sources: dict[str, str], classes: int) -> dict:
    """report.json's per-class section: each reference's figures, each evaluation's and its deltas."""
    labels = predictions.labels.astype(np.int64)
    references = {
        name: per_class(confusion(labels, predictions.reference(name), classes))
        for (name, runtime) in predictions.entries
        if runtime == REFERENCE_RUNTIME
    }
    evaluations = {}
    for name, runtime in predictions.entries:
        if runtime == REFERENCE_RUNTIME or sources.get(name) not in references:
            continue
        figures = per_class(confusion(labels, predictions.predicted(name, runtime), classes))
        reference = references[sources[name]]
        figures["f1_delta"] = [round(a - b, 3) for a, b in zip(figures["f1"], reference["f1"], strict=True)]
        evaluations[_key(name, runtime)] = figures
    return {
        "units": "percent; evaluations keyed 'artifact|runtime'",
        "references": references,
        "evaluations": evaluations,
    }
