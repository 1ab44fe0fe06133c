"""The default verdict on its calibration set: every faithful conversion passes, every broken artifact fails."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.mnist


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    from calibration_set import build

    return build(tmp_path_factory.mktemp("calibration"))


def test_the_set_spans_low_and_high_accuracy_and_every_kind_of_break(cases):
    faithful = {c.model: c.result.reference_accuracy for c in cases if c.faithful}
    assert len(faithful) >= 6 and min(faithful.values()) <= 65 and max(faithful.values()) >= 99.5
    broken = {c.artifact.split("-float16")[0] for c in cases if not c.faithful}
    assert len(broken) >= 6


def test_every_faithful_conversion_passes(cases):
    false_fails = [f"{c.model}/{c.artifact}: {c.result.breach()}" for c in cases if c.faithful and not c.result.passed]
    assert false_fails == []


def test_every_broken_artifact_fails(cases):
    assert [f"{c.model}/{c.artifact}" for c in cases if not c.faithful and c.result.passed] == []


def test_the_old_rule_cried_wolf_on_low_margin_int8(cases):
    """Why the rule changed: fixed agreement failed honest int8 conversions of the low-accuracy models."""
    assert any(c.faithful and c.old_rule_passes is False for c in cases)
