"""The one interface every runtime implements: load an artifact, predict a batch of images -> probabilities."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from exporters.base import Artifact, Format
from toolkit.errors import StepError

# Images per call into a runtime: one LiteRT invoke or Keras batch of 1000 takes the 10k test set in ~1 s, where
# one image at a time takes minutes; larger batches gain nothing and cost memory.
BATCH_SIZE = 1000


class Predictor(Protocol):
    """A loaded model in one runtime.

    `predict` takes raw images, pixels 0..255 as (N, H, W, C), (N, H, W) for one channel, or any shape holding
    N x H x W x C values (uint8; float for resampled pictures such as a drawn digit), and returns float32 (N, K)
    probabilities. The predictor applies the contract's normalization, reshapes to the model's input, (de)quantizes
    integer tensors and applies softmax to logits, so callers never handle a model's or a format's details.
    """

    runtime: str

    def predict(self, images: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A place where artifacts run: the formats it evaluates, why it cannot run here (None when it can), a loader."""

    name: str
    formats: tuple[Format, ...]
    unavailable: Callable[[], str | None]
    load: Callable[[Path, Artifact], Predictor]  # (artifact directory, artifact) -> Predictor
    # Where starting the engine costs more than a model (a Node process, a browser): evaluate several loaded
    # predictors of this runtime in one go -> each one's probabilities, or the exception it met.
    predict_many: Callable[[list[Predictor], np.ndarray], list[np.ndarray | Exception]] | None = None
    refuses: Callable[[Artifact], str | None] = lambda artifact: None  # why it cannot evaluate this artifact
    # Which artifacts of its formats it is made for (MediaPipe Tasks: the pixels artifacts); the others are not
    # planned for it at all, rather than listed as skipped.
    takes: Callable[[Artifact], bool] = lambda artifact: True
    # In-process TensorFlow runtimes, whose outputs on the same files and images are fixed by the engine's version
    # and whose start costs seconds: that version, under which the gate reuses its last results on unchanged files
    # (toolkit.gate.kept). None: always evaluated afresh (the runtimes users deploy to: LiteRT, Node, Chromium).
    engine_version: Callable[[], str] | None = None
    # In every gate (True), or only when chosen with --targets / [parity] targets (the browser matrix, and the
    # runtimes that would cost the default gate much time: MediaPipe Tasks, LiteRT.js).
    default: bool = True
    engine: str | None = None  # the browser engine of a browser runtime: chromium, firefox, webkit
    backend: str | None = None  # the backend of a JavaScript runtime (TF.js, LiteRT.js): wasm, webgl, webgl-f16, webgpu
    # Engine processes of one lane run one after the other (two cores cannot host several browsers at once);
    # None: a lane of its own, beside the others.
    lane: str | None = None
    # Why an evaluation that failed failed, beyond its figures: (artifact directory, artifact, images) -> one line.
    explain: Callable[[Path, Artifact, np.ndarray], str | None] | None = None


class NotStarted(StepError):
    """The runtime's engine, or its backend, could not start here: nothing was evaluated, so nothing is verified."""


def package_versions(*names: str) -> str:
    """`name version` of each installed distribution, without importing it."""
    import importlib.metadata

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    return ", ".join(f"{name} {version(name)}" for name in names)


def by_input(run_group: Callable[[list, np.ndarray], list]) -> Callable[[list, np.ndarray], list]:
    """A predict_many that hands `run_group` only predictors whose artifacts take the same input from the same
    images (one input file serves them all), and returns the results in the order given.

    A group that fails as a whole (its contract's picture does not fit the images, the engine could not start)
    fails only its own artifacts: each gets the error, the other groups their results.
    """

    def predict_many(items: list, images: np.ndarray) -> list:
        groups: dict[str, list[int]] = {}
        for i, predictor in enumerate(items):
            artifact = predictor.artifact
            key = repr((artifact.input, artifact.classifier.image, artifact.classifier.normalization))
            groups.setdefault(key, []).append(i)
        results: list = [None] * len(items)
        for indices in groups.values():
            try:
                outputs = run_group([items[i] for i in indices], images)
            except Exception as error:
                outputs = [error] * len(indices)
            for i, result in zip(indices, outputs, strict=True):
                results[i] = result
        return results

    return predict_many


def predict_one(predict_many: Callable[[list, np.ndarray], list], predictor, images: np.ndarray) -> np.ndarray:
    """`predictor.predict` for a runtime that evaluates artifacts in groups: a group of one, its error raised."""
    result = predict_many([predictor], images)[0]
    if isinstance(result, Exception):
        raise result
    return result
