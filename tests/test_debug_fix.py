"""An int8 PTQ conversion that fails: `edgekit debug` names the culprit layer and `--fix` turns it into a pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()


def outlier_model(data_path: Path, path: Path) -> None:
    """A dense classifier with one hidden unit scaled by 10^4 and the next layer compensating.

    The float function is unchanged, but int8 gives the hidden layer one range for all its units: the outlier
    stretches it so far that every other unit rounds to zero, and plain PTQ collapses to chance.
    """
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    with np.load(data_path) as data:
        x, y = data["x_train"] / 255.0, data["y_train"]
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu", name="wide"),
            keras.layers.Dense(16, activation="relu", name="narrow"),
            keras.layers.Dense(10, activation="softmax", name="classes"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, verbose=0)
    w1, b1, w2, b2, w3, b3 = model.get_weights()
    w1[:, 0] *= 1e4
    b1[0] *= 1e4
    w2[0, :] /= 1e4
    model.set_weights([w1, b1, w2, b2, w3, b3])
    model.save(path)


def test_debug_names_the_outlier_layer_and_fix_makes_int8_pass(tmp_path: Path, tiny_data: Path):
    outlier_model(tiny_data, tmp_path / "outlier.h5")
    config = tmp_path / "edgekit.toml"
    # No pixels files: their uint8 one is int8 PTQ of the same model, fails alike, and --fix does not remake it.
    config.write_text('[export]\ntfjs = false\nsaved_model = false\npixels = false\n[parity]\nruntimes = ["litert"]\n')
    common = ["export", "--model", str(tmp_path / "outlier.h5"), "--data", str(tiny_data), "--config", str(config)]

    plain = runner.invoke(app, [*common, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 1, plain.output
    report = json.loads((tmp_path / "plain" / "report.json").read_text())
    failed = {a["name"] for a in report["artifacts"] if not a["passed"]}
    assert failed == {"tflite-int8-ptq"}
    worst = report["debug"]["tflite-int8-ptq"]["worst_layers"][0]
    assert "wide" in worst["node"] and worst["suspect"]  # named automatically on the breach
    assert "wide" in (tmp_path / "plain" / "report.md").read_text()
    # Beside it, the quantizer's own per-tensor SNR: the collapsed `narrow` output comes out near 0 dB.
    snr = report["debug"]["tflite-int8-ptq"]["quantizer_snr"]["worst_tensors"]
    assert snr[0]["snr_db"] < 3 and any("narrow" in t["tensor"] for t in snr[:2])
    assert "LiteRT quantizer" in (tmp_path / "plain" / "report.html").read_text()

    debugged = runner.invoke(app, ["debug", str(tmp_path / "plain"), "tflite-int8-ptq"])
    assert debugged.exit_code == 0, debugged.output
    assert "wide" in debugged.output.splitlines()[1] and "SUSPECT" in debugged.output.splitlines()[1]
    assert (tmp_path / "plain" / "debug" / "tflite-int8-ptq.json").is_file()
    assert "worst tensors by SNR" in debugged.output and " dB  " in debugged.output

    fixed = runner.invoke(app, [*common, "--out", str(tmp_path / "fixed"), "--fix"])
    assert fixed.exit_code == 0, fixed.output
    report = json.loads((tmp_path / "fixed" / "report.json").read_text())
    assert report["passed"]
    (fix,) = report["fixes"]
    # The ladder climbs in order of cost and stops at the first integer file that passes: int16 activations on
    # the outlier layer alone still requantize it to int8 for the next layer; on both, the file passes.
    assert fix["fixed"] and fix["remedy"].startswith("int16 activations on") and "wide" in fix["remedy"]
    steps = [t["remedy"] for t in fix["tried"]]
    assert steps[0].startswith("calibration on") and not fix["tried"][0]["passed"]
    assert steps[1].startswith("int16 activations on") and not fix["tried"][1]["passed"]
    assert fix["tried"][-1]["passed"] and len(steps) == 3
    recipe = fix["recipe"]
    assert recipe["backend"] == "ai-edge-quantizer" and recipe["fully_integer"] and recipe["float_ops"] == []
    assert [o["precision"] for o in recipe["overrides"]] == ["int16", "int16"]
    contract = json.loads((tmp_path / "fixed" / "artifacts" / "tflite-int8-ptq" / "contract.json").read_text())
    assert contract["quantization"]["overrides"] == recipe["overrides"] and contract["input"]["dtype"] == "int8"
    from toolkit.web import mediapipe_env

    if mediapipe_env.ready():  # the file --fix kept carries TFLite Metadata, as export's files do
        kept = tmp_path / "fixed" / "artifacts" / "tflite-int8-ptq" / contract["main_file"]
        assert mediapipe_env.read_metadata(kept)["labels"] == contract["labels"]
    assert fix["latency_ms_per_image"]["after"] > 0
    markdown = (tmp_path / "fixed" / "report.md").read_text()
    assert "--fix on tflite-int8-ptq: fixed by int16 activations" in markdown
    assert "- recipe: int8 by ai-edge-quantizer, per layer:" in markdown and "fully integer" in markdown
    assert "Recipe kept: int8 by ai-edge-quantizer" in (tmp_path / "fixed" / "report.html").read_text()


def test_debug_refuses_a_float_artifact(tiny_run: Path):
    result = runner.invoke(app, ["debug", str(tiny_run), "tflite-float16"])
    assert result.exit_code == 2 and "not an int8 TFLite artifact" in result.output
