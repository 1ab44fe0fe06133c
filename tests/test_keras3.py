"""Keras 3 as users have it: `.keras` files saved by every Keras 3 minor from 3.8 to 3.15 (tests/fixtures/keras3,
remade by make.sh there) pass the allow-list, load, predict as they did where they were saved, and export; objects
that are not on the list are refused before anything is deserialized."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from toolkit.errors import InputError
from toolkit.modeling import keras3
from toolkit.modeling.keras_files import load_keras_model, refuse_code

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "keras3"
VERSIONS = sorted((p.name for p in FIXTURES.iterdir() if p.is_dir()), key=lambda v: tuple(map(int, v.split("."))))
MODELS = ("seq_cnn", "functional_preproc", "nested")


def config_of(path: Path) -> dict:
    return json.loads(zipfile.ZipFile(path).read("config.json"))


@pytest.mark.unit
def test_the_fixtures_span_every_minor_from_3_8_to_3_15():
    assert VERSIONS == [f"3.{minor}" for minor in range(8, 16)]
    for version in VERSIONS:
        assert json.loads((FIXTURES / version / "info.json").read_text())["keras"].startswith(version + ".")


@pytest.mark.unit
@pytest.mark.parametrize("version", VERSIONS)
def test_every_fixture_is_on_the_list(version):
    for name in MODELS:
        assert keras3.unlisted(config_of(FIXTURES / version / f"{name}.keras")) is None


def layer(class_name: str, config: dict, module: str = "keras.layers") -> dict:
    return {"module": module, "class_name": class_name, "config": {"name": "x", **config}, "registered_name": None}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (layer("Dense", {"activation": {"module": "keras.utils", "class_name": "function", "config": "get_file"}}),
         "function keras.utils.get_file"),
        (layer("Dense", {"activation": {"module": "keras.config", "class_name": "function",
                                        "config": "enable_unsafe_deserialization"}}), "enable_unsafe_deserialization"),
        (layer("StringLookup", {"vocabulary": "/etc/passwd"}), "keras.layers.StringLookup"),
        (layer("TFSMLayer", {"filepath": "/tmp/model"}), "keras.layers.TFSMLayer"),
        ({"module": None, "class_name": "Mine", "config": {}, "registered_name": "Mine"}, "custom class (Mine)"),
        (layer("Dense", {"activation": {"module": "builtins", "class_name": "function", "config": "mine>double"}}),
         "function builtins.mine>double"),
    ],
)  # fmt: skip
def test_objects_off_the_list_are_refused(obj, message):
    model = {"module": "keras", "class_name": "Sequential", "config": {"name": "m", "layers": [obj]}}
    reason = keras3.unlisted(model)
    assert reason and message in reason


@pytest.mark.unit
def test_refusal_happens_before_keras_is_imported(tmp_path):
    import subprocess

    source = FIXTURES / "3.15" / "seq_cnn.keras"
    hostile = tmp_path / "hostile.keras"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(hostile, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1] = layer("StringLookup", {"vocabulary": "/etc/passwd"})
                data = json.dumps(config).encode()
            copy.writestr(item, data)
    code = (
        "import sys\nfrom toolkit.modeling.keras_files import refuse_code\n"
        f"try:\n    refuse_code({str(hostile)!r}, trust=False)\nexcept Exception as e:\n    print(e)\n"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "StringLookup" in done and "--trust-model" in done and done.strip().endswith("False False")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_minor_loads_and_predicts_as_it_did_where_it_was_saved(version):
    sys.path.insert(0, str(FIXTURES))
    from make import inputs

    with np.load(FIXTURES / version / "expected.npz") as expected:
        for name in MODELS:
            path = FIXTURES / version / f"{name}.keras"
            refuse_code(path, trust=False)
            model = load_keras_model(path)
            np.testing.assert_allclose(
                model.predict(inputs(expected, name), verbose=0), expected[f"{name}_y"], atol=1e-5
            )


def test_a_file_from_a_newer_keras_says_so(tmp_path):
    newer = tmp_path / "newer.keras"
    with zipfile.ZipFile(FIXTURES / "3.15" / "seq_cnn.keras") as original, zipfile.ZipFile(newer, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "keras_version": "3.99.0"}).encode()
            if item.filename == "config.json":  # a field this Keras does not know, as 3.13's were to 3.10
                config = json.loads(data)
                config["config"]["layers"][1]["config"]["future_option"] = True
                data = json.dumps(config).encode()
            copy.writestr(item, data)
    with pytest.raises(InputError, match=r"saved by Keras 3\.99\.0, newer than the Keras 3\.15\.1 .*future_option"):
        load_keras_model(newer)


def rgb_data(path: Path) -> Path:
    """The fixtures' own kind of data for functional_preproc (32x32x3 raw pixels, 3 classes), 4,000 test images."""
    sys.path.insert(0, str(FIXTURES))
    from make import synthetic

    rng = np.random.default_rng(7)
    x_train, y_train = synthetic(rng, 600, (32, 32, 3), 3)
    x_test, y_test = synthetic(rng, 4000, (32, 32, 3), 3)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.mark.node
@pytest.mark.parametrize(("version", "tfjs"), [("3.8", False), ("3.15", True)])
def test_the_oldest_and_newest_minor_export_and_pass(version, tfjs, tmp_path):
    from toolkit.cli import app

    data = rgb_data(tmp_path / "rgb.npz")
    model = shutil.copy(FIXTURES / version / "functional_preproc.keras", tmp_path / "user.keras")
    runtimes = ["-r", "litert", *(["-r", "tfjs-node-wasm"] if tfjs else ["--no-tfjs"])]
    args = ["export", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "run"), *runtimes]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["input_convention"]["kind"] == "raw"  # its own Rescaling(1/255) says so
    names = {a["name"] for a in report["artifacts"] if a["verdict"] == "passed"}
    expected = {"tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8-ptq"}
    assert expected | ({"tfjs-float32", "tfjs-float16", "tfjs-uint8"} if tfjs else set()) <= names
