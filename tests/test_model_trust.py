"""No code runs from a model file: Lambda layers and custom classes are refused unless --trust-model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.errors import InputError
from toolkit.modeling.keras_files import refuse_code

runner = CliRunner()
# An untrained model (chance accuracy, on purpose) is near-uniform, so int8 may flip a few top-1 classes and lose a
# point: this test is about code, not parity.
FORMATS_OFF = (
    "[export]\ntfjs = false\nsaved_model = false\n[parity]\nallow_chance_reference = true\n"
    "[parity.min_agreement]\nint8 = 0\ndynamic = 0\n[parity.tolerances]\nint8 = 5\ndynamic = 5\n"
)


def lambda_model(marker: Path):
    """A working classifier whose Lambda layer creates `marker` whenever the model is built, e.g. on load."""
    import tf_keras as keras

    # The path is baked into the bytecode that tf-keras marshals into the file, as an attacker would do.
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # noqa: S307
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
            keras.layers.Lambda(touch, name="payload"),
        ]
    )
    marker.unlink(missing_ok=True)  # building it ran the payload once, here, in the test
    return model


@pytest.fixture
def lambda_h5(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / "lambda.h5"
    lambda_model(marker).save(path)
    marker.unlink(missing_ok=True)
    return path, marker


def export_user(*args) -> object:
    return runner.invoke(app, ["export", "--model", *[str(a) for a in args]])


def test_lambda_model_is_refused_and_its_code_never_runs(tmp_path, tiny_data, lambda_h5):
    path, marker = lambda_h5
    result = export_user(path, "--data", tiny_data, "--out", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert "payload" in result.output and "Lambda" in result.output and "--trust-model" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not marker.exists()
    assert not (tmp_path / "run").exists()


def test_trusted_lambda_model_runs_and_later_steps_keep_the_decision(tmp_path, tiny_data, lambda_h5):
    path, marker = lambda_h5
    config = tmp_path / "edgekit.toml"
    config.write_text(FORMATS_OFF)
    run = tmp_path / "run"
    result = export_user(path, "--data", tiny_data, "--out", run, "--config", config, "--trust-model")
    assert result.exit_code == 0, result.output
    assert marker.exists()  # trusted: its code ran
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["steps"]["import"]["trust_model"] is True

    # validate reloads the copy in the run (without the references export kept): allowed, because the run
    # records the user's decision ...
    marker.unlink()
    (run / "references.npz").unlink()
    assert runner.invoke(app, ["validate", str(run), "-c", str(config)]).exit_code == 0
    assert marker.exists()
    assert (run / "references.npz").exists()  # computed by this gate, and kept sealed for the next one
    # ... and refused when the run does not record it
    marker.unlink()
    manifest["steps"]["import"]["trust_model"] = False
    (run / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["validate", str(run), "-c", str(config)])
    assert result.exit_code == 2 and "Lambda" in result.output
    assert not marker.exists()


def test_every_saving_format_is_checked(tmp_path):
    marker = tmp_path / "pwned"
    model = lambda_model(marker)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "saved_model", save_format="tf")
    marker.unlink(missing_ok=True)
    for path in [tmp_path / "m.keras", tmp_path / "saved_model"]:
        with pytest.raises(InputError, match="payload"):
            refuse_code(path, trust=False)
        refuse_code(path, trust=True)
    assert not marker.exists()


def test_custom_layer_class_is_refused(tmp_path, tiny_data):
    import tf_keras as keras

    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    model = keras.Sequential([keras.Input((784,)), Doubler(), keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "custom.h5")
    result = export_user(tmp_path / "custom.h5", "--data", tiny_data, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "custom layer class Doubler" in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_our_own_models_pass_the_check(tiny_run):
    for name in ("float", "qat"):
        refuse_code(tiny_run / "models" / f"{name}.h5", trust=False)


def test_refusal_comes_before_tensorflow_is_imported(lambda_h5):
    path, marker = lambda_h5
    code = (
        "import sys, toolkit\nfrom toolkit.modeling.keras_files import refuse_code\n"
        f"try:\n    refuse_code({str(path)!r}, trust=False)\nexcept Exception as e:\n    print(type(e).__name__)\n"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["InputError", "False"]
    assert not marker.exists()
