"""Paired statistics of two classifiers on the same images (counts, exact McNemar p-value, CI of the accuracy
delta) and top-1 accuracy."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclasses.dataclass(frozen=True)
class Paired:
    """How an artifact and its reference fare on the same n images, and what that says about the accuracy delta.

    `p_drop` is the exact one-sided McNemar p-value of "the artifact is less accurate than the reference";
    `p_value` the two-sided one. The interval is the 95 % CI of the accuracy delta (artifact - reference), in
    percentage points, by Agresti and Min's adjusted Wald interval for paired proportions (0.5 added to each cell),
    which keeps its coverage when the discordant counts are small or zero.
    """

    both_right: int
    only_reference_right: int
    only_artifact_right: int
    both_wrong: int
    p_value: float
    p_drop: float
    delta_ci: tuple[float, float]

    @property
    def n(self) -> int:
        return self.both_right + self.only_reference_right + self.only_artifact_right + self.both_wrong


def binomial_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly (in log space so that n in the tens of thousands is fine)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k, n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def mcnemar(only_reference_right: int, only_artifact_right: int) -> tuple[float, float]:
    """Exact McNemar test on the discordant pairs: (two-sided p, one-sided p of a drop)."""
    b, c = only_reference_right, only_artifact_right
    discordant = b + c
    if discordant == 0:
        return 1.0, 1.0
    p_drop = binomial_tail(b, discordant)
    p_two = min(1.0, 2 * binomial_tail(max(b, c), discordant))
    return p_two, p_drop


def delta_interval(only_reference_right: int, only_artifact_right: int, n: int) -> tuple[float, float]:
    """95 % CI of the paired accuracy delta in percentage points (Agresti-Min adjusted Wald)."""
    m = n + 2
    p_ref_only = (only_reference_right + 0.5) / m
    p_art_only = (only_artifact_right + 0.5) / m
    diff = p_art_only - p_ref_only
    half = Z95 * math.sqrt(max(p_ref_only + p_art_only - diff**2, 0.0) / m)
    return (round(max(diff - half, -1.0) * 100, 4), round(min(diff + half, 1.0) * 100, 4))


def paired(artifact_right: np.ndarray, reference_right: np.ndarray) -> Paired:
    """The paired comparison of two boolean vectors "this model's top-1 class was right on image i"."""
    artifact_right = np.asarray(artifact_right, bool)
    reference_right = np.asarray(reference_right, bool)
    counts = {
        "both_right": int(np.sum(artifact_right & reference_right)),
        "only_reference_right": int(np.sum(reference_right & ~artifact_right)),
        "only_artifact_right": int(np.sum(artifact_right & ~reference_right)),
        "both_wrong": int(np.sum(~artifact_right & ~reference_right)),
    }
    p_two, p_drop = mcnemar(counts["only_reference_right"], counts["only_artifact_right"])
    interval = delta_interval(counts["only_reference_right"], counts["only_artifact_right"], len(artifact_right))
    return Paired(**counts, p_value=p_two, p_drop=p_drop, delta_ci=interval)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent."""
    return float(np.mean(np.argmax(probabilities, axis=1) == labels) * 100)
