"""PASSED must be true for the user: a test set too small to show a drop is INCONCLUSIVE (exit 3) and says how many
images would settle it; a reference no better than chance fails the gate unless it is untrained on purpose."""

from __future__ import annotations

import json
from pathlib import Path

from support import train_user_model, write_npz
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()
LITERT_ONLY = ("--no-tfjs", "-r", "litert")


def export(model: Path, data: Path, out: Path, *extra: str):
    return runner.invoke(app, ["export", "--model", str(model), "--data", str(data), "--out", str(out), *extra])


def test_a_36_image_gate_is_inconclusive_and_says_what_would_settle_it(tmp_path):
    data = write_npz(tmp_path / "small.npz", train=240, test=36)
    train_user_model((28, 28), logits=False, data_path=data).save(tmp_path / "user.h5")
    result = export(tmp_path / "user.h5", data, tmp_path / "run", *LITERT_ONLY)
    assert result.exit_code == 3, result.output
    assert result.output.strip().splitlines()[-1].startswith("INCONCLUSIVE (")
    assert "36 test images can only show a drop of" in result.output and "test images would settle it" in result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["verdict"] == "inconclusive" and report["passed"] is False and report["breaches"] == []
    assert {a["verdict"] for a in report["artifacts"]} == {"inconclusive"}
    assert all(a["detectable_drop"] > 20 for a in report["artifacts"])
    assert (tmp_path / "run" / "report.md").read_text().startswith("# edgekit parity report: INCONCLUSIVE")
    assert "INCONCLUSIVE" in (tmp_path / "run" / "report.html").read_text()


def test_a_reference_at_chance_fails_unless_untrained_on_purpose(tmp_path, tiny_data):
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    untrained = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    untrained.save(tmp_path / "untrained.h5")
    result = export(tmp_path / "untrained.h5", tiny_data, tmp_path / "run", *LITERT_ONLY)
    assert result.exit_code == 1, result.output
    assert "reference float" in result.output and "not significantly above chance" in result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["verdict"] == "failed" and report["breaches"][0].startswith("reference float: scores")
    # Untrained on purpose: the artifacts are judged against it (near-uniform outputs may still flip under int8).
    runner.invoke(app, ["validate", str(tmp_path / "run"), "-r", "litert", "--allow-chance-reference"])
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["allow_chance_reference"] is True and not any(b.startswith("reference") for b in report["breaches"])
    assert next(a for a in report["artifacts"] if a["name"] == "tflite-float32")["verdict"] == "passed"
