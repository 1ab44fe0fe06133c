"""Paired statistics and the verdict rule on constructed outcomes (exact values checked against scipy)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toolkit.config import Bounds
from toolkit.gate.stats import binomial_tail, delta_interval, mcnemar, paired
from toolkit.gate.verdict import breaches, measure
from toolkit.report.document import strict

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("k", "n"), [(0, 0), (3, 10), (8, 8), (60, 100), (5100, 10000), (11, 10)])
def test_binomial_tail_is_exact(k, n):
    from scipy.stats import binom

    expected = 0.0 if k > n else float(binom.sf(k - 1, n, 0.5))
    assert binomial_tail(k, n) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_matches_scipy_binomtest():
    from scipy.stats import binomtest

    for b, c in [(8, 0), (29, 20), (5, 5), (226, 123), (0, 3)]:
        two, drop = mcnemar(b, c)
        assert two == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)
        assert drop == pytest.approx(binomtest(b, b + c, 0.5, alternative="greater").pvalue, rel=1e-9)
    assert mcnemar(0, 0) == (1.0, 1.0)


def test_the_interval_holds_the_delta_and_narrows_with_more_images():
    low, high = delta_interval(30, 10, 1000)
    assert low < -2.0 < high and high < 0  # 20 more lost than won of 1000: -2 points, clearly a drop
    wide, narrow = delta_interval(3, 1, 100), delta_interval(30, 10, 1000)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]
    assert delta_interval(0, 0, 10000)[0] < 0 < delta_interval(0, 0, 10000)[1]


def test_paired_counts_add_up():
    artifact = np.array([1, 1, 0, 0, 1], bool)
    reference = np.array([1, 0, 1, 0, 1], bool)
    p = paired(artifact, reference)
    assert (p.both_right, p.only_reference_right, p.only_artifact_right, p.both_wrong) == (2, 1, 1, 1)
    assert p.n == 5


LABELS = np.arange(10000) % 10
BOUNDS = Bounds(tolerance=0.3, min_agreement=97.0, max_mean_prob_error=0.02, significance=0.01)


def one_hot(classes) -> np.ndarray:
    return np.eye(10, dtype=np.float32)[np.asarray(classes)]


def flipped(count: int, start: int = 0) -> np.ndarray:
    """Predictions equal to the labels except `count` images from `start`, which are wrong."""
    predicted = LABELS.copy()
    predicted[start : start + count] = (predicted[start : start + count] + 1) % 10
    return predicted


def test_many_near_ties_flipping_both_ways_pass():
    """The issue's low-margin model: 150 images change class either way, net -0.08 points: noise, not loss."""
    reference = flipped(2300, 0)  # a 77 % model
    artifact = reference.copy()
    artifact[:71] = LABELS[:71]  # won back 71
    artifact[5000:5079] = (LABELS[5000:5079] + 1) % 10  # lost 79
    evidence = measure(one_hot(artifact), one_hot(reference), LABELS)
    assert evidence.accuracy_delta == pytest.approx(-0.08) and evidence.agreement == pytest.approx(98.5)
    assert breaches(evidence, BOUNDS) == []


def test_a_significant_drop_beyond_the_margin_fails_and_one_within_it_passes():
    reference = one_hot(LABELS)
    assert breaches(measure(one_hot(flipped(40)), reference, LABELS), BOUNDS)  # -0.4 points, p ~ 1e-12
    assert not breaches(measure(one_hot(flipped(25)), reference, LABELS), BOUNDS)  # -0.25 points: within 0.3


def test_a_large_drop_that_is_not_significant_passes_the_accuracy_rule():
    labels = np.arange(100) % 10
    reference = one_hot(labels)
    artifact = labels.copy()
    artifact[:2] = (artifact[:2] + 1) % 10  # 2 of 100: -2 points, but p = 0.25
    evidence = measure(one_hot(artifact), reference, labels)
    assert evidence.paired.p_drop == 0.25
    assert breaches(evidence, Bounds(0.3, 90.0, 1.0, 0.01)) == []


def test_right_argmax_with_wrong_probabilities_fails():
    reference = one_hot(LABELS) * 0.8 + 0.02
    shifted = reference + 0.11  # what an output zero-point edited from -128 to -100 does (28 / 256)
    reasons = breaches(measure(shifted, reference, LABELS), BOUNDS)
    assert len(reasons) == 1 and "probabilities off by 0.1100" in reasons[0]


def test_non_finite_outputs_fail_and_never_agree():
    reference = one_hot(LABELS)
    nan = reference.copy()
    nan[:, :] = np.nan
    evidence = measure(nan, reference, LABELS)
    assert evidence.non_finite == nan.size and evidence.agreement == 0 and evidence.max_abs_prob_delta is None
    assert "NaN or infinite" in breaches(evidence, BOUNDS)[0]
    quantized_nan = measure(reference, nan, LABELS)  # an int8 file of a NaN model gives numbers: still no match
    assert quantized_nan.non_finite == 0 and "the reference model gives" in breaches(quantized_nan, BOUNDS)[0]


def test_the_report_is_strict_json():
    report = {"a": [{"x": math.nan, "y": (1.0, math.inf)}], "b": 2}
    text = json.dumps(strict(report), allow_nan=False)
    assert json.loads(text) == {"a": [{"x": None, "y": [1.0, None]}], "b": 2}
