"""A user's own model enters at `edgekit export --model`: other input shapes, logits, file formats, Keras 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import train_user_model
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.run import Run

runner = CliRunner()


def export_user(model_path: Path, data: Path, out: Path, *extra: str):
    return runner.invoke(app, ["export", "--model", str(model_path), "--data", str(data), "--out", str(out), *extra])


def test_flat_logits_model_as_h5(tmp_path, tiny_data):
    model = train_user_model((784,), logits=True, data_path=tiny_data)
    model.save(tmp_path / "user.h5")
    result = export_user(tmp_path / "user.h5", tiny_data, tmp_path / "run")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["passed"] and len(report["artifacts"]) >= 8
    contract = json.loads((tmp_path / "run" / "artifacts" / "tflite-int8-ptq" / "contract.json").read_text())
    assert contract["input"]["shape"] == [784] and contract["output_kind"] == "logits"
    assert all(a["reference_accuracy"] > 80 for a in report["artifacts"])  # softmax applied, not raw logits


def test_28x28_model_as_keras_file_with_qat(tmp_path, tiny_data):
    config = tmp_path / "edgekit.toml"
    config.write_text("[export]\ntfjs = false\nsaved_model = false\n[qat]\nbatch_size = 32\n")
    train_user_model((28, 28), logits=False, data_path=tiny_data).save(tmp_path / "user.keras")
    result = export_user(tmp_path / "user.keras", tiny_data, tmp_path / "run", "--qat", "--config", str(config))
    assert result.exit_code == 0, result.output
    names = {a["name"] for a in json.loads((tmp_path / "run" / "report.json").read_text())["artifacts"]}
    assert names == {
        "tflite-float32",
        "tflite-float16",
        "tflite-dynamic",
        "tflite-int8-ptq",
        "tflite-int8-qat",
        "tflite-pixels-float32",
        "tflite-pixels-uint8",
    }


def test_savedmodel_directory(tmp_path, tiny_data):
    config = tmp_path / "edgekit.toml"
    config.write_text("[export]\ntfjs = false\nsaved_model = false\n")
    train_user_model((28, 28, 1), logits=False, data_path=tiny_data).save(tmp_path / "saved")
    result = export_user(tmp_path / "saved", tiny_data, tmp_path / "run", "--config", str(config))
    assert result.exit_code == 0, result.output


def test_keras3_file_exports_and_qat_is_refused_before_tensorflow(tmp_path, tiny_data):
    import keras  # Keras 3, installed beside tf-keras by TensorFlow

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "k3.keras")
    result = export_user(tmp_path / "k3.keras", tiny_data, tmp_path / "qat", "--qat")
    assert result.exit_code == 2
    assert "saved by Keras 3" in result.output and "drop --qat" in result.output
    assert not (tmp_path / "qat").exists()

    untrained = "--allow-chance-reference"  # random weights are enough to prove the conversion
    result = export_user(tmp_path / "k3.keras", tiny_data, tmp_path / "run", "-r", "litert", untrained)
    assert result.exit_code == 0, result.output
    run = Run.open(tmp_path / "run")
    assert run.manifest["steps"]["import"]["keras"] == 3 and run.model_path("float").suffix == ".keras"
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert {a["name"] for a in report["artifacts"] if a["passed"]} >= {"tflite-float32", "tflite-int8-ptq"}


@pytest.mark.parametrize(
    "input_shape, outputs, message",
    [((32, 32, 1), 10, "does not hold the data's 28x28x1 images"), ((784,), 5, "5 outputs but the data has 10")],
)
def test_model_of_the_wrong_shape_is_refused(tmp_path, tiny_data, input_shape, outputs, message):
    import tf_keras as keras

    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(outputs)])
    model.save(tmp_path / "wrong.h5")
    result = export_user(tmp_path / "wrong.h5", tiny_data, tmp_path / "run")
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "run").exists()


def test_not_a_model_file(tmp_path, tiny_data):
    (tmp_path / "junk.h5").write_bytes(b"junk")
    result = export_user(tmp_path / "junk.h5", tiny_data, tmp_path / "run")
    assert result.exit_code == 2 and "not a loadable tf-keras model" in result.output


@pytest.mark.node
def test_layer_that_tfjs_layers_cannot_load_ships_as_a_graph_model(tmp_path, tiny_data):
    """A model Keras accepts but TF.js's layers deserializer cannot load (a bare `Layer`): the graph model converted
    from the SavedModel has no such layer left, and Node runs it."""
    import tf_keras as keras

    from toolkit.runtimes import RUNTIMES

    reason = RUNTIMES["tfjs-node-wasm"].unavailable()
    if reason:
        pytest.skip(reason)
    identity = keras.layers.Layer()  # the base class: fine in Keras, unknown to TF.js layers
    model = keras.Sequential([keras.Input((784,)), identity, keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "user.h5")
    config = tmp_path / "edgekit.toml"
    config.write_text("[export]\ntflite = false\nsaved_model = false\n")
    result = export_user(
        tmp_path / "user.h5",
        tiny_data,
        tmp_path / "run",
        "--config",
        str(config),
        "-r",
        "tfjs-node-wasm",
        "--allow-chance-reference",  # untrained: random weights are enough to prove the conversion
    )
    assert result.exit_code == 0, result.output
    run = Run.open(tmp_path / "run")
    assert {a.model_type for a in run.artifacts()} == {"graph-model"}
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    verdicts = {(a["name"], a["runtime"]): a for a in report["artifacts"]}
    assert verdicts[("tfjs-float32", "tfjs-node-wasm")]["passed"]


def test_tfjs_without_a_javascript_runtime_is_not_verified(tmp_path, tiny_data, monkeypatch):
    """On a machine without Node and Chromium nothing runs the TF.js files: they are "not verified", the verdict is
    INCONCLUSIVE (exit 3) with the remedy, rather than passing on the other formats' evidence."""
    import tf_keras as keras

    from toolkit.runtimes import tfjs_browser, tfjs_node

    monkeypatch.setattr(tfjs_node, "node_executable", lambda: None)  # as if neither were installed
    monkeypatch.setattr(tfjs_browser, "chromium_executable", lambda: None)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "user.h5")
    config = tmp_path / "edgekit.toml"
    config.write_text("[export]\ntflite = false\nsaved_model = false\n")
    untrained = "--allow-chance-reference"
    result = export_user(tmp_path / "user.h5", tiny_data, tmp_path / "run", "--config", str(config), untrained)
    assert result.exit_code == 3
    assert "not verified" in result.output and "install Node.js" in result.output
    assert result.output.strip().splitlines()[-1] == "INCONCLUSIVE (3)"
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert sorted(report["not_verified"]) == ["tfjs-float16", "tfjs-float32", "tfjs-uint8"]
