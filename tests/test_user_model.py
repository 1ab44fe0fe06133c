"""A user's own model enters at `edgekit export --model`: other input shapes, logits, file formats, Keras 3."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()


def train_user_model(input_shape, logits: bool, data_path: Path):
    import tf_keras as keras

    with np.load(data_path) as data:
        x, y = data["x_train"], data["y_train"]
    flatten = [keras.layers.Reshape((784,))] if input_shape != (784,) else []
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            *flatten,
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation=None if logits else "softmax"),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=logits))
    model.fit((x / 255.0).reshape((len(x), *input_shape)), y, epochs=5, verbose=0)
    return model


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
    assert names == {"tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8-ptq", "tflite-int8-qat"}


def test_savedmodel_directory(tmp_path, tiny_data):
    config = tmp_path / "edgekit.toml"
    config.write_text("[export]\ntfjs = false\nsaved_model = false\n")
    train_user_model((28, 28, 1), logits=False, data_path=tiny_data).save(tmp_path / "saved")
    result = export_user(tmp_path / "saved", tiny_data, tmp_path / "run", "--config", str(config))
    assert result.exit_code == 0, result.output


def test_keras3_file_gets_a_clear_message(tmp_path, tiny_data):
    import keras  # Keras 3, installed beside tf-keras by TensorFlow

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "k3.keras")
    result = export_user(tmp_path / "k3.keras", tiny_data, tmp_path / "run")
    assert result.exit_code == 2
    assert "saved by Keras 3" in result.output and "tf_keras" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "input_shape, outputs, message",
    [((32, 32, 1), 10, "does not hold a 28x28 image"), ((784,), 5, "is not (None, 10)")],
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
def test_layer_that_tfjs_cannot_run_fails_the_gate(tmp_path, tiny_data):
    """A model Keras and the TF.js converter accept but TF.js cannot load: only the JavaScript runtime can tell."""
    import tf_keras as keras

    from toolkit.runtimes import RUNTIMES

    reason = RUNTIMES["tfjs-node-wasm"].unavailable()
    if reason:
        pytest.skip(reason)
    identity = keras.layers.Layer()  # the base class: fine in Keras, unknown to TF.js
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
        "tfjs-python",
        "-r",
        "tfjs-node-wasm",
    )
    assert result.exit_code == 1
    assert "tfjs-float32 [tfjs-node-wasm]" in result.output and "Unknown layer: Layer" in result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    verdicts = {(a["name"], a["runtime"]): a["passed"] for a in report["artifacts"]}
    assert verdicts[("tfjs-float32", "tfjs-python")] and not verdicts[("tfjs-float32", "tfjs-node-wasm")]
