"""`edgekit ensemble` on tiny synthetic data: members averaged in one graph, QAT of the whole, gated artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()
SETTINGS = """
[train]
epochs = 2
batch_size = 32
validation_size = 40
[qat]
epochs = 1
batch_size = 32
[export]
representative_size = 50
tfjs = false
[parity]
runtimes = ["litert", "tensorflow"]
"""


@pytest.mark.unit
def test_fewer_than_two_members_exit_2(tmp_path):
    result = runner.invoke(app, ["ensemble", "--out", str(tmp_path / "run"), "--members", "1"])
    assert result.exit_code == 2
    assert not (tmp_path / "run").exists()


def test_ensemble_is_one_model_that_averages_its_members(tmp_path, tiny_data):
    config = tmp_path / "settings.toml"
    config.write_text(SETTINGS)
    out = tmp_path / "run"
    args = ["ensemble", "--out", out, "--data", tiny_data, "--config", config, "--members", "3"]
    result = runner.invoke(app, [str(a) for a in [*args, "--arch", "cnn", "--arch", "dense", "--joint-epochs", "1"]])
    assert result.exit_code == 0, result.output
    import tf_keras as keras

    from toolkit.data.datasets import load_data
    from toolkit.modeling.keras_files import load_keras_model
    from toolkit.pixels.tensors import float_input

    data = load_data(tiny_data)
    images = float_input(data.x_test[:20], data.classifier(), (28, 28, 1))
    combined = load_keras_model(out / "models" / "float.h5")
    members = [load_keras_model(out / "models" / f"member-{i}.h5") for i in range(3)]
    assert [m.input_shape[1:] for m in members] == [(28, 28, 1), (784,), (28, 28, 1)]
    # one graph whose output is the mean of its members' outputs...
    branches = keras.Model(combined.input, combined.get_layer("probabilities").input).predict(images, verbose=0)
    np.testing.assert_allclose(combined.predict(images, verbose=0), np.mean(branches, axis=0), atol=1e-5)
    # ...fine-tuned as a whole after the members trained (--joint-epochs 1): they moved
    trained = [m.predict(images.reshape((20, *m.input_shape[1:])), verbose=0) for m in members]
    assert not np.allclose(branches, trained, atol=1e-4)
    report = json.loads((out / "report.json").read_text())
    assert report["passed"]
    names = {a["name"] for a in report["artifacts"]}
    assert {"tflite-float32", "tflite-int8-ptq", "tflite-int8-qat", "saved_model-float"} <= names
    summary = report["ensemble"]
    assert [(m["architecture"], m["seed"]) for m in summary["members"]] == [("cnn", 42), ("dense", 43), ("cnn", 44)]
    assert all(0 <= m["test_accuracy"] <= 100 for m in summary["members"]) and summary["test_accuracy"] > 80
    assert summary["joint_epochs"] == 1 and 0 <= summary["averaged_accuracy"] <= 100
    assert "## Ensemble" in (out / "report.md").read_text()
    assert "fine-tuned as one model (1 epoch)" in (out / "report.html").read_text()


def test_combined_model_averages_its_members():
    from toolkit.config import Architecture
    from toolkit.modeling.architectures import build_model
    from toolkit.modeling.ensemble import combine

    members = [build_model(Architecture.CNN), build_model(Architecture.DENSE), build_model(Architecture.CNN3_BN)]
    images = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    expected = np.mean([m.predict(images.reshape((8, *m.input_shape[1:])), verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(combine(members, (28, 28, 1)).predict(images, verbose=0), expected, atol=1e-5)


def test_ensemble_takes_its_input_shape_and_classes_from_the_data(tmp_path):
    """Not 28x28x1 and ten classes whatever --data holds: 16x16 RGB images of three classes make a 16x16x3 model."""
    rng = np.random.default_rng(0)

    def images(count: int):
        labels = rng.integers(0, 3, count).astype(np.uint8)
        pixels = rng.integers(0, 40, (count, 16, 16, 3)).astype(np.uint8)
        for image, label in zip(pixels, labels, strict=True):
            image[2 + 4 * label : 5 + 4 * label, 2:14, label] = 230  # class k: a bar at its own row and channel
        return pixels, labels

    (x_train, y_train), (x_test, y_test) = images(240), images(4000)
    data = tmp_path / "rgb.npz"
    np.savez(data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, class_names=["a", "b", "c"])
    config = tmp_path / "settings.toml"
    config.write_text(SETTINGS)
    out = tmp_path / "run"
    args = ["ensemble", "--out", out, "--data", data, "--config", config, "--members", "2", "--arch", "dense"]
    result = runner.invoke(app, [str(a) for a in [*args, "--no-qat"]])
    assert result.exit_code == 0, result.output
    from toolkit.modeling.keras_files import load_keras_model

    assert load_keras_model(out / "models" / "float.h5").input_shape == (None, 16, 16, 3)
    contract = json.loads((out / "artifacts" / "tflite-float32" / "contract.json").read_text())
    assert contract["image"] == {"height": 16, "width": 16, "channels": 3} and contract["labels"] == ["a", "b", "c"]
