"""The pixels a model expects, decided once when it enters a run: what its own preprocessing layers state, checked
against the accuracy each candidate convention scores on a labelled sample of the training images."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from exporters.base import Classifier, Normalization
from toolkit.data.datasets import Dataset
from toolkit.errors import InputError
from toolkit.gate.stats import binomial_upper_tail, mcnemar

SAMPLE = 1000  # training images each candidate is scored on: a second or two, and enough to tell 10 % from 80 %
CANDIDATES = ("unit", "symmetric", "raw")
PREPROCESSING = ("Rescaling", "Normalization")


def stated_by_model(model) -> tuple[str, str] | None:
    """(convention, why) when the model's first layer says what pixels it takes, else None.

    A leading Rescaling or Normalization (also inside a nested model) whose map sends 0..255 to a small range
    means the model takes raw pixels; a Normalization fitted on [0, 1] values means unit pixels.
    """
    layer = _first_layer(model)
    if layer is None:
        return None
    kind, config = type(layer).__name__, layer.get_config()
    if kind == "Rescaling":
        scale = float(np.max(np.abs(np.atleast_1d(config.get("scale", 1.0)))))
        if scale < 0.1:
            return "raw", f"its first layer, {layer.name}, rescales pixels by {scale:.4g}"
        return None
    mean = np.asarray(getattr(layer, "mean", np.nan), dtype=np.float64)
    if mean.size and np.all(np.isfinite(mean)):
        why = f"its first layer, {layer.name}, normalizes with a mean of {np.mean(mean):.3g}"
        if np.max(np.abs(mean)) > 2:
            return "raw", f"{why} (pixel scale)"
        if np.min(mean) >= 0 and np.max(mean) <= 1:
            return "unit", f"{why} ([0, 1] scale)"
    return None


def _first_layer(model):
    """The first layer that computes something, looking inside nested models; None when it is no preprocessing."""
    for layer in getattr(model, "layers", []):
        kind = type(layer).__name__
        if kind in ("InputLayer", "Reshape", "Flatten"):
            continue
        if hasattr(layer, "layers"):  # a nested Sequential or functional model
            return _first_layer(layer)
        return layer if kind in PREPROCESSING else None
    return None


def _scores(model, data: Dataset, classifier: Classifier, candidates: dict[str, Normalization]):
    """({candidate: whether the model gets each sampled training image right fed that way}, the sample's
    majority-class rate)."""
    from toolkit.runtimes.keras import KerasPredictor

    rng = np.random.default_rng(0)
    picks = np.sort(rng.choice(len(data.x_train), min(SAMPLE, len(data.x_train)), replace=False))
    right = {}
    for kind, normalization in candidates.items():
        candidate = dataclasses.replace(classifier, normalization=normalization)
        probabilities = KerasPredictor(model, candidate).predict(data.x_train[picks])
        right[kind] = np.argmax(probabilities, axis=1) == data.y_train[picks]
    return right, float(np.bincount(data.y_train[picks]).max() / len(picks))


def decide(
    model, data: Dataset, classifier: Classifier, declared: Normalization | None, significance: float = 0.01
) -> Normalization:
    """The normalization to record for `model`, with how it was decided in its `decided` field.

    Every candidate (unit, symmetric, raw, and a declared mean/std) is scored on the same training images. A
    declaration that scores clearly worse (paired exact test at `significance`) than another candidate is refused;
    without one, the convention the model states wins unless another is clearly better, then the clear winner,
    else unit.

    Raises:
        InputError: the declared convention scores clearly worse than another; the message names both.
    """
    candidates = {kind: Normalization.declare(kind) for kind in CANDIDATES}
    if declared is not None:
        candidates[declared.kind] = declared
    right, chance = _scores(model, data, classifier, candidates)
    accuracy = {kind: round(float(np.mean(r)) * 100, 2) for kind, r in right.items()}
    measured = {"accuracy": accuracy, "images": int(len(next(iter(right.values()))))}

    def beats(a: str, b: str) -> bool:
        only_a, only_b = int(np.sum(right[a] & ~right[b])), int(np.sum(right[b] & ~right[a]))
        return mcnemar(only_a, only_b)[1] < significance  # b is less accurate than a, significantly

    best = max(accuracy, key=accuracy.get)
    # Below chance nothing can be told apart: an untrained model, or data unlike the model's.
    if binomial_upper_tail(int(np.sum(right[best])), len(right[best]), chance) >= significance:
        why = "no convention scores above chance on the sample"
        return _with(declared or candidates["unit"], "declared" if declared else "default", why, measured)
    if declared is not None:
        if best != declared.kind and beats(best, declared.kind):
            raise InputError(_refusal(declared.kind, best, accuracy, measured["images"]))
        return _with(declared, "declared", "given with --normalization", measured)
    stated = stated_by_model(model)
    if stated is not None and not (best != stated[0] and beats(best, stated[0])):
        return _with(candidates[stated[0]], "model", stated[1], measured)
    if all(beats(best, other) for other in accuracy if other != best):
        return _with(candidates[best], "measured", f"{best} scores clearly best on the sample", measured)
    return _with(candidates["unit"], "default", "no convention scores clearly better; unit is the default", measured)


def _with(normalization: Normalization, how: str, why: str, measured: dict[str, Any]) -> Normalization:
    return dataclasses.replace(normalization, decided={"how": how, "why": why, **measured})


def _refusal(declared: str, best: str, accuracy: dict[str, float], images: int) -> str:
    return (
        f"--normalization {declared} scores {accuracy[declared]:.2f} % on {images} training images, but {best} "
        f"scores {accuracy[best]:.2f} %: the model does not take {declared} pixels; pass --normalization {best} "
        "(or leave it out and edgekit decides)"
    )


def describe(normalization: Normalization) -> str:
    """One line for the console and the report: which convention and why."""
    decided = normalization.decided or {}
    scores = ", ".join(f"{k} {v:.1f} %" for k, v in decided.get("accuracy", {}).items())
    measured = f"; on {decided['images']} training images: {scores}" if scores else ""
    return f"input: {normalization.kind} pixels ({decided.get('why', 'as recorded')}{measured})"


def for_training(declared: Normalization | None) -> Normalization:
    """The convention of a model edgekit trains: the one it is trained on, declared or unit."""
    if declared is not None:
        return dataclasses.replace(
            declared, decided={"how": "declared", "why": "trained on it, given with --normalization"}
        )
    return dataclasses.replace(Normalization(), decided={"how": "trained", "why": "edgekit trained the model on it"})
