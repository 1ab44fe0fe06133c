"""Paired statistics of two classifiers on the same images (counts, exact McNemar p-value, CI of the accuracy
delta) and top-1 accuracy."""

from __future__ import annotations

import dataclasses
import functools
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

    def detectable_drop(self, significance: float, power: float = 0.8) -> float:
        """The smallest accuracy drop, in points, these images could have shown (see detectable_drop below)."""
        discordant = self.only_reference_right + self.only_artifact_right
        return detectable_drop(self.n, discordant, significance, power) * 100 if self.n else 100.0


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


def _tail_half(losses: np.ndarray, discordant: np.ndarray) -> np.ndarray:
    """P(Binomial(d, 1/2) >= b), elementwise: the one-sided McNemar p-value of b losses among d discordant images."""
    from scipy.special import betainc

    b, d = np.asarray(losses, np.float64), np.asarray(discordant, np.float64)
    inside = (b >= 1) & (b <= d)
    tail = betainc(np.where(inside, b, 1.0), np.where(inside, d - b + 1, 1.0), 0.5)
    return np.where(b <= 0, 1.0, np.where(b > d, 0.0, tail))


def critical_losses(most: int, significance: float) -> np.ndarray:
    """For each count d = 0..most of discordant images, the fewest losses among them that the one-sided exact
    McNemar test calls a drop at `significance` (d + 1 where no count of losses is enough)."""
    return _critical_table(1 << int(most).bit_length(), significance)[: most + 1]


@functools.lru_cache(maxsize=4)
def _critical_table(size: int, significance: float) -> np.ndarray:
    d = np.arange(size)
    low, high = np.zeros_like(d), d + 1  # the answer lies in [low, high]; at high the tail is 0
    while np.any(low < high):
        middle = (low + high) // 2
        rejects = _tail_half(middle, d) < significance
        high, low = np.where(rejects, middle, high), np.where(rejects, low, middle + 1)
    return low


def detection_power(n: int, drop: float, discordance: float, significance: float) -> float:
    """The probability that the gate's test sees a true accuracy drop `drop` (a share of the n images).

    Under that drop a share psi = max(discordance, drop) of the images is discordant (one model right, the other
    wrong: at least the drop itself), (psi + drop) / (2 psi) of them losses; the exact one-sided McNemar test at
    `significance` is summed over the binomial number of discordant images.
    """
    from scipy.special import betainc, gammaln

    psi = max(discordance, drop)
    if n <= 0 or psi <= 0:
        return 0.0
    share_lost = (psi + drop) / (2 * psi)
    spread = math.sqrt(n * psi * (1 - psi))
    d = np.arange(max(0, math.floor(n * psi - 10 * spread - 10)), min(n, math.ceil(n * psi + 10 * spread + 10)) + 1)
    k = critical_losses(n, significance)[d]
    possible = k <= d
    # P(Binomial(d, share_lost) >= k) = I_share_lost(k, d - k + 1) where 1 <= k <= d
    k_safe = np.maximum(k, 1)
    seen = np.where(possible, betainc(k_safe, np.maximum(d - k_safe + 1, 1), share_lost), 0.0)
    seen = np.where(possible & (k <= 0), 1.0, seen)
    log_pmf = gammaln(n + 1) - gammaln(d + 1) - gammaln(n - d + 1) + d * math.log(psi)
    log_pmf = log_pmf + ((n - d) * math.log1p(-psi) if psi < 1 else np.where(d == n, 0.0, -np.inf))
    return float(np.sum(np.exp(log_pmf) * seen))


@functools.lru_cache(maxsize=1024)
def detectable_drop(n: int, discordant: int, significance: float, power: float = 0.8) -> float:
    """The smallest accuracy drop (a share of the images, 0..1) that n paired images, `discordant` of them
    discordant, would show at `significance` with probability `power`; 1.0 when not even a total loss would."""
    discordance = discordant / n if n else 0.0
    if detection_power(n, 1.0, discordance, significance) < power:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(30):
        middle = (low + high) / 2
        if detection_power(n, middle, discordance, significance) >= power:
            high = middle
        else:
            low = middle
    return high


def images_needed(discordance: float, drop: float, significance: float, power: float = 0.8) -> int:
    """How many test images, discordant at the same rate, would show a drop of `drop` (a share) with `power`."""
    if drop <= 0:
        raise ValueError("the drop to detect must be positive")

    def enough(n: int) -> bool:
        return detectable_drop(n, round(discordance * n), significance, power) <= drop

    high = 8
    while not enough(high):
        high *= 2
        if high > 1 << 30:
            raise ValueError("no test set of any size would show that drop")
    low = high // 2
    while low + 1 < high:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    from scipy.special import betainc

    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return float(betainc(k, n - k + 1, p))
