"""The gate's rule: which evaluations of an artifact against its reference fail, which could not have seen a drop
(inconclusive), and whether the reference itself is better than chance (docs/verdict.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from toolkit.config import Bounds
from toolkit.gate.stats import Paired, binomial_upper_tail, images_needed, paired

POWER = 0.8  # the chance with which the test set must be able to show a drop that matters


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Everything the verdict looks at, measured once."""

    accuracy: float
    reference_accuracy: float
    accuracy_delta: float
    agreement: float
    max_abs_prob_delta: float | None  # None when some output is not finite
    mean_abs_prob_delta: float | None
    non_finite: int  # outputs (image x class) that are NaN or infinite
    paired: Paired
    reference_non_finite: int = 0  # the same in the reference's outputs: then there is nothing to compare with


def measure(probabilities: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> Evidence:
    """Accuracy, agreement, probability error and paired statistics of an artifact's outputs against its reference's."""
    finite = np.isfinite(probabilities)
    non_finite = int(np.sum(~finite))
    # argmax of a NaN row is 0 whatever the truth: count such rows as wrong and never as agreeing.
    rows_ok = finite.all(axis=1)
    predicted = np.where(rows_ok, np.argmax(np.where(finite, probabilities, -np.inf), axis=1), -1)
    reference_predicted = np.argmax(reference, axis=1)
    artifact_right, reference_right = predicted == labels, reference_predicted == labels
    error = np.abs(probabilities.astype(np.float64) - reference)
    reference_non_finite = int(np.sum(~np.isfinite(reference)))
    unknown = non_finite or reference_non_finite
    return Evidence(
        accuracy=float(np.mean(artifact_right) * 100),
        reference_accuracy=float(np.mean(reference_right) * 100),
        accuracy_delta=float((np.mean(artifact_right) - np.mean(reference_right)) * 100),
        agreement=float(np.mean(predicted == reference_predicted) * 100),
        max_abs_prob_delta=None if unknown else float(error.max(initial=0.0)),
        mean_abs_prob_delta=None if unknown else float(error.max(axis=1, initial=0.0).mean()) if len(error) else 0.0,
        non_finite=non_finite,
        paired=paired(artifact_right, reference_right),
        reference_non_finite=reference_non_finite,
    )


def breaches(evidence: Evidence, bounds: Bounds) -> list[str]:
    """Why the evaluation fails; empty when it passes.

    A drop fails when it is both real (exact one-sided McNemar p below `significance`) and larger than the practical
    `tolerance`: a low-margin model has many near-ties that rounding flips both ways, which is noise, not loss.
    Hard floors catch what a paired accuracy test cannot see: garbage outputs, scrambled classes (agreement) and
    wrong probabilities with the right argmax (a mis-recorded output zero-point or input scale).
    """
    e, reasons = evidence, []
    if e.non_finite:
        reasons.append(f"{e.non_finite} output value(s) are NaN or infinite")
    if e.reference_non_finite:
        reasons.append(f"the reference model gives {e.reference_non_finite} NaN or infinite value(s): nothing to match")
    drop = -e.accuracy_delta
    if round(drop, 6) > bounds.tolerance and e.paired.p_drop < bounds.significance:
        lo, hi = e.paired.delta_ci
        reasons.append(
            f"accuracy {e.accuracy:.2f}% is {drop:.2f} points below the reference ({e.reference_accuracy:.2f}%): "
            f"tolerance {bounds.tolerance}, McNemar p={e.paired.p_drop:.2g} < {bounds.significance}, "
            f"95% CI [{lo:.2f}, {hi:.2f}]"
        )
    if e.agreement < bounds.min_agreement:
        reasons.append(f"top-1 agreement {e.agreement:.2f}% < {bounds.min_agreement}%")
    if e.mean_abs_prob_delta is not None and e.mean_abs_prob_delta > bounds.max_mean_prob_error:
        reasons.append(
            f"probabilities off by {e.mean_abs_prob_delta:.4f} on average (max {e.max_abs_prob_delta:.4f}) "
            f"> {bounds.max_mean_prob_error}"
        )
    return reasons


def inconclusive(evidence: Evidence, bounds: Bounds) -> str | None:
    """Why the evaluation cannot vouch for the artifact although nothing failed: its test set could not have shown,
    with 80 % power, a drop larger than the margin plus `power_margin` points. None when it could.

    The smallest detectable drop comes from the paired counts (toolkit.gate.stats.detectable_drop); the message
    says how many test images, discordant at the same rate, would settle it.
    """
    p = evidence.paired
    if p.n == 0:
        return "no test image was evaluated"
    drop = p.detectable_drop(bounds.significance, POWER)
    needed = bounds.tolerance + bounds.power_margin
    if round(drop, 6) <= needed:
        return None
    discordance = (p.only_reference_right + p.only_artifact_right) / p.n
    settle = images_needed(discordance, needed / 100, bounds.significance, POWER)
    return (
        f"{p.n} test images can only show a drop of {drop:.2f} points or more (80 % power), above the "
        f"{needed:.2f} the gate must see: about {settle} test images would settle it"
    )


def reference_problem(probabilities: np.ndarray, labels: np.ndarray, significance: float) -> str | None:
    """Why the reference model cannot vouch for anything: its accuracy is not significantly above always answering
    the most frequent class (exact one-sided binomial test at `significance`). None when it is."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return "the test set is empty"
    broken = int(np.sum(~np.isfinite(probabilities).all(axis=1)))
    if broken:
        return f"gives NaN or infinite outputs on {broken} of {len(labels)} test images: there is nothing to match"
    right = int(np.sum(np.argmax(probabilities, axis=1) == labels))
    chance = float(np.bincount(labels).max() / len(labels))
    p = binomial_upper_tail(right, len(labels), chance)
    if p < significance:
        return None
    return (
        f"scores {right / len(labels):.2%} on {len(labels)} test images, not significantly above chance (the most "
        f"frequent class is {chance:.2%} of them; binomial p = {p:.2g}): check the input normalization, or pass "
        "--allow-chance-reference for a model that is untrained on purpose"
    )


def entry_verdict(entry: dict[str, Any]) -> str:
    """An evaluation's verdict (reports older than the word have only `passed`)."""
    return entry.get("verdict") or ("passed" if entry.get("passed") else "failed")
