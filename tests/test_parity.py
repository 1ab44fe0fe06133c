"""The gate's arithmetic: one-sided tolerance, agreement, boundaries, and a runtime that fails to load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exporters.base import Artifact, Format, TensorSpec, Variant, describe_files
from toolkit.config import Bounds, ParityConfig
from toolkit.gate.parity import check_parity, compare
from toolkit.gate.stats import accuracy
from toolkit.run import Run

pytestmark = pytest.mark.unit


def artifact(variant=Variant.INT8, source="float", fmt=Format.TFLITE) -> Artifact:
    spec = TensorSpec([28, 28, 1], "float32")
    return Artifact(
        "a",
        fmt,
        variant,
        source,
        "artifacts/a",
        "model.tflite",
        spec,
        TensorSpec([10], "float32"),
        files={"model.tflite": {"sha256": "0", "size_bytes": 10}},
    )


def bounds(tolerance=0.3, min_agreement=0.0, prob=1.0, significance=1.0) -> Bounds:
    """Significance 1.0 by default: these tests check the margin arithmetic, not the test of significance."""
    return Bounds(tolerance, min_agreement, prob, significance)


def one_hot(classes) -> np.ndarray:
    return np.eye(10, dtype=np.float32)[np.asarray(classes)]


LABELS = np.arange(1000) % 10


def test_identical_outputs_pass_with_zero_delta():
    ref = one_hot(LABELS)
    result = compare(artifact(), "litert", ref, ref, LABELS, bounds(0.0, 100.0))
    assert result.passed and result.accuracy_delta == 0 and result.agreement == 100 and result.max_abs_prob_delta == 0


def test_drop_beyond_tolerance_fails_and_says_by_how_much():
    ref = one_hot(LABELS)
    worse = LABELS.copy()
    worse[:5] = (worse[:5] + 1) % 10  # 5 of 1000 wrong: -0.5 points
    result = compare(artifact(), "litert", one_hot(worse), ref, LABELS, bounds(0.3, 99.0))
    assert not result.passed
    assert result.accuracy_delta == -0.5
    assert "0.50 points below" in result.breach() and "tolerance 0.3" in result.breach()


def test_drop_exactly_at_tolerance_passes():
    worse = LABELS.copy()
    worse[:3] = (worse[:3] + 1) % 10
    result = compare(artifact(), "litert", one_hot(worse), one_hot(LABELS), LABELS, bounds(0.3, 99.0))
    assert result.passed


def test_gate_is_one_sided_but_agreement_still_counts():
    reference = LABELS.copy()
    reference[:20] = (reference[:20] + 1) % 10  # the reference is wrong on 20 images, the artifact is right
    result = compare(artifact(), "litert", one_hot(LABELS), one_hot(reference), LABELS, bounds(0.0, 99.0))
    assert result.accuracy_delta == 2.0 and result.agreement == 98.0
    assert not result.passed and "agreement 98.00% < 99.0%" in result.breach()


def test_accuracy_is_in_percent():
    assert accuracy(one_hot([1, 2, 3, 4]), np.array([1, 2, 3, 0])) == 75.0


def test_an_artifact_that_cannot_load_fails_the_gate(tmp_path: Path):
    images = np.zeros((10, 28, 28), np.float32)
    (tmp_path / "artifacts" / "a").mkdir(parents=True)
    (tmp_path / "artifacts" / "a" / "model.tflite").write_bytes(b"not a flatbuffer")
    broken = artifact()
    broken.files = describe_files(tmp_path / "artifacts" / "a")  # recorded as it is: the runtime must reject it
    outcome = check_parity(
        Run(tmp_path),
        [broken],
        images,
        np.zeros(10, int),
        {"float": one_hot([0] * 10)},
        ParityConfig(runtimes=["litert"], allow_chance_reference=True),  # one class only: the runtime is under test
    )
    assert not outcome.passed
    assert outcome.results[0].error and "a [litert]" in outcome.breaches()[0]


def test_no_evaluation_is_not_a_pass(tmp_path: Path):
    (tmp_path / "artifacts" / "a").mkdir(parents=True)
    (tmp_path / "artifacts" / "a" / "model.tflite").write_bytes(b"x")
    unrun = artifact()
    unrun.files = describe_files(tmp_path / "artifacts" / "a")
    outcome = check_parity(
        Run(tmp_path), [unrun], np.zeros((1, 28, 28)), np.zeros(1, int), {}, ParityConfig(runtimes=["tensorflow"])
    )
    assert outcome.results == [] and not outcome.passed
