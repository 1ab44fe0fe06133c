"""No pass without power, no pass at chance: the detectable drop (checked by simulation), the inconclusive verdict
of a test set too small to show a drop, and a reference that is no better than always answering one class."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.config import Bounds
from toolkit.gate.stats import detectable_drop, detection_power, images_needed, mcnemar
from toolkit.gate.verdict import inconclusive, measure, reference_problem

pytestmark = pytest.mark.unit
BOUNDS = Bounds(tolerance=0.3, min_agreement=0.0, max_mean_prob_error=1.0, significance=0.01)


def simulated_power(n: int, drop: float, discordance: float, runs: int = 4000, seed: int = 0) -> float:
    """How often the gate's exact one-sided McNemar test sees a true drop, by drawing paired outcomes."""
    rng = np.random.default_rng(seed)
    psi = max(discordance, drop)  # a drop needs at least as many discordant images
    lost, won = (psi + drop) / 2, (psi - drop) / 2
    counts = rng.multinomial(n, [lost, won, 1 - lost - won], size=runs)
    return float(np.mean([mcnemar(int(b), int(c))[1] < 0.01 for b, c, _ in counts]))


@pytest.mark.parametrize(("n", "drop", "discordance"), [(400, 0.027, 0.03), (10000, 0.0025, 0.006), (120, 0.07, 0.0)])
def test_the_power_computed_is_the_power_seen_in_simulation(n, drop, discordance):
    assert detection_power(n, drop, discordance, 0.01) == pytest.approx(simulated_power(n, drop, discordance), abs=0.03)


def test_the_detectable_drop_has_80_percent_power_and_shrinks_with_more_images():
    for n, discordant in [(10000, 0), (10000, 60), (400, 12), (36, 0)]:
        drop = detectable_drop(n, discordant, 0.01)
        assert (
            detection_power(n, drop, discordant / n, 0.01)
            >= 0.8
            > detection_power(n, drop * 0.97, discordant / n, 0.01)
        )
    assert detectable_drop(36, 0, 0.01) > detectable_drop(10000, 60, 0.01) > detectable_drop(10000, 0, 0.01)
    assert detectable_drop(5, 0, 0.01) == 1.0  # five images cannot show a drop at p < 0.01 at all (0.5^5 = 0.03)


def test_images_needed_is_the_smallest_count_that_shows_the_drop():
    needed = images_needed(0.0, 0.0027, 0.01)
    assert detectable_drop(needed, 0, 0.01) <= 0.0027 < detectable_drop(needed - 1, 0, 0.01)


def gate(n: int, flipped: int, classes: int = 3):
    """An artifact that agrees with a right reference on n images except `flipped` of them (each a loss)."""
    labels = np.arange(n) % classes
    reference = np.eye(classes, dtype=np.float32)[labels]
    artifact = reference.copy()
    artifact[:flipped] = np.eye(classes, dtype=np.float32)[(labels[:flipped] + 1) % classes]
    return measure(artifact, reference, labels)


def test_36_images_are_inconclusive_and_say_how_many_would_settle_it():
    reason = inconclusive(gate(36, 0), BOUNDS)
    assert reason and reason.startswith("36 test images can only show a drop of 24.13 points")
    settle = int(reason.rsplit("about ", 1)[1].split()[0])
    assert settle == images_needed(0.0, (BOUNDS.tolerance + BOUNDS.power_margin) / 100, 0.01)


def test_mnist_sized_test_sets_are_conclusive_for_every_default_bound():
    from toolkit.config import ParityConfig

    config = ParityConfig()
    for variant, discordant in [("float32", 0), ("float16", 1), ("dynamic", 10), ("uint8", 20), ("int8", 60)]:
        assert inconclusive(gate(10000, discordant // 2), config.bounds(variant)) is None, variant


def test_a_reference_at_chance_is_no_reference():
    labels = np.arange(1000) % 10
    chance = np.eye(10, dtype=np.float32)[np.random.default_rng(1).integers(0, 10, 1000)]
    problem = reference_problem(chance, labels, 0.01)
    assert problem and "not significantly above chance" in problem and "--allow-chance-reference" in problem
    assert reference_problem(np.eye(10, dtype=np.float32)[labels], labels, 0.01) is None
    # Always answering the most frequent class is no better than chance either, however accurate it looks.
    skewed = np.array([0] * 900 + [1] * 100)
    majority = np.eye(2, dtype=np.float32)[np.zeros(1000, int)]
    assert "90.00%" in reference_problem(majority, skewed, 0.01)
