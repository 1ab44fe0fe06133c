"""The Android sample's side of the contract: installed model + contract agree, and the Kotlin core equals Python."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from support import make_run

import toolkit  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from toolkit.errors import InputError, ParityError
from toolkit.pixels.golden import write_golden_vectors
from toolkit.serve.android import ASSETS_DIR, install_model

SAMPLE = Path(__file__).resolve().parents[1] / "android_sample"
CORE = SAMPLE / "core"
JUNIT_JARS = [Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar")]
# Debian's libgoogle-gson-java: the core reads contract.json with Gson (the app gets it from Maven).
GSON_JAR = Path("/usr/share/java/gson.jar")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory with an int8 and a float32 TFLite artifact of a tiny untrained CNN (contracts only matter)."""
    import tf_keras as keras

    from exporters import tflite
    from exporters.base import Variant

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(4),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    run = make_run(tmp_path_factory.mktemp("run")).path
    representative = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    tflite.export(
        model,
        run / "artifacts" / "tflite-int8-ptq",
        Variant.INT8,
        name="tflite-int8-ptq",
        source="float",
        run_dir=run,
        representative=representative,
    )
    tflite.export(
        model, run / "artifacts" / "tflite-float32", Variant.FLOAT32, name="tflite-float32", source="float", run_dir=run
    )
    write_report(run, {"tflite-int8-ptq": "passed", "tflite-float32": "passed"})
    return run


def write_report(run: Path, verdicts: dict[str, str]) -> None:
    """The gate's report for the run's current files, with the given verdict per artifact."""
    from toolkit.run import Run

    artifacts = {a.name: a for a in Run.open(run).artifacts()}
    figures = {"format": "tflite", "accuracy": 99.0, "accuracy_delta": 0.0, "agreement": 100.0}
    entries = [
        {"name": n, "runtime": "litert", "verdict": v, "passed": v == "passed", "digest": artifacts[n].digest} | figures
        for n, v in verdicts.items()
    ]
    (run / "report.json").write_text(json.dumps({"verdict": "failed", "passed": False, "artifacts": entries}))


@pytest.fixture
def app_dir(tmp_path) -> Path:
    """A copy of the sample's app manifest: enough of an Android project for install_model to accept."""
    app = tmp_path / "android_app"
    (app / "app/src/main").mkdir(parents=True)
    shutil.copy(SAMPLE / "app/src/main/AndroidManifest.xml", app / "app/src/main/AndroidManifest.xml")
    return app


def _assert_contract_describes(model: Path, contract_path: Path) -> dict:
    """What the app checks on the device, done here with LiteRT: the contract's tensors are the model's."""
    from ai_edge_litert.interpreter import Interpreter

    contract = json.loads(contract_path.read_text())
    assert model.name == contract["main_file"]
    interpreter = Interpreter(model_path=str(model))
    details = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    for detail, spec in zip(details, (contract["input"], contract["output"]), strict=True):
        assert list(detail["shape"][1:]) == spec["shape"]
        assert np.dtype(detail["dtype"]).name == spec["dtype"]
        scale, zero_point = detail["quantization"]
        if spec["dtype"] == "float32":
            assert spec["scale"] is None and spec["zero_point"] is None
        else:
            assert (scale, zero_point) == (spec["scale"], spec["zero_point"])
    return contract


@pytest.mark.parametrize("artifact", ["tflite-int8-ptq", "tflite-float32"])
def test_installed_contract_describes_the_installed_model(run_dir, app_dir, artifact):
    model, contract_path = install_model(run_dir, app_dir, artifact)
    assert model.parent == contract_path.parent == app_dir / ASSETS_DIR
    source = run_dir / "artifacts" / artifact
    assert model.read_bytes() == (source / "model.tflite").read_bytes()
    assert contract_path.read_bytes() == (source / "contract.json").read_bytes()

    contract = _assert_contract_describes(model, contract_path)
    assert contract["input"]["dtype"] == ("int8" if "int8" in artifact else "float32")
    assert contract["normalization"]["kind"] == "unit" and contract["normalization"]["scale"] == [1 / 255]
    assert contract["image"] == {"height": 28, "width": 28, "channels": 1}
    assert len(contract["labels"]) == contract["output"]["shape"][-1]


def test_install_replaces_the_previous_model_whole(run_dir, app_dir):
    install_model(run_dir, app_dir, "tflite-int8-ptq")
    stale = app_dir / ASSETS_DIR / "old_model.tflite"
    stale.write_bytes(b"stale")
    installed = install_model(run_dir, app_dir, "tflite-float32")
    assert sorted(p.name for p in (app_dir / ASSETS_DIR).iterdir()) == sorted(p.name for p in installed)
    assert json.loads(installed[1].read_text())["name"] == "tflite-float32"


def test_install_rejects_bad_input(run_dir, app_dir, tmp_path):
    with pytest.raises(InputError, match="no such run directory"):
        install_model(tmp_path / "missing", app_dir)
    # The default artifact is the QAT one, which this run does not have: the message lists what it has.
    with pytest.raises(InputError, match=r"no artifact 'tflite-int8-qat' \(it has: tflite-float32, tflite-int8-ptq\)"):
        install_model(run_dir, app_dir)
    with pytest.raises(InputError, match="not the Android sample"):
        install_model(run_dir, tmp_path, "tflite-int8-ptq")
    assert not (app_dir / ASSETS_DIR).exists()

    broken = tmp_path / "broken_run"
    shutil.copytree(run_dir, broken)
    tfjs = broken / "artifacts" / "tfjs-float32"
    shutil.copytree(broken / "artifacts" / "tflite-float32", tfjs)
    contract = json.loads((tfjs / "contract.json").read_text())
    (tfjs / "contract.json").write_text(json.dumps({**contract, "name": "tfjs-float32", "format": "tfjs"}))
    with pytest.raises(InputError, match="tfjs artifact"):
        install_model(broken, app_dir, "tfjs-float32")
    wide = broken / "artifacts" / "tflite-int8-ptq" / "contract.json"
    wide.write_text(json.dumps({**json.loads(wide.read_text()), "input": {**contract["input"], "shape": [32, 32, 1]}}))
    with pytest.raises(InputError, match=r"takes float32 \[32, 32, 1\]; the app feeds one 28x28x1 image"):
        install_model(broken, app_dir, "tflite-int8-ptq")
    (broken / "artifacts" / "tflite-float32" / "model.tflite").write_bytes(b"not the exported model")
    with pytest.raises(InputError, match="files do not match its contract"):
        install_model(broken, app_dir, "tflite-float32")
    (broken / "artifacts" / "tflite-int8-ptq" / "contract.json").write_text("{")
    with pytest.raises(InputError, match="unreadable contract"):
        install_model(broken, app_dir, "tflite-int8-ptq")


def test_install_refuses_an_artifact_that_failed_the_gate(run_dir, app_dir, tmp_path):
    gated = tmp_path / "gated_run"
    shutil.copytree(run_dir, gated)
    write_report(gated, {"tflite-float32": "passed", "tflite-int8-ptq": "failed"})
    assert install_model(gated, app_dir, "tflite-float32")
    with pytest.raises(ParityError, match="did not pass the gate .*--allow-failed"):
        install_model(gated, app_dir, "tflite-int8-ptq")
    assert json.loads((app_dir / ASSETS_DIR / "contract.json").read_text())["name"] == "tflite-float32"
    assert install_model(gated, app_dir, "tflite-int8-ptq", allow_failed=True)
    (gated / "report.json").unlink()  # a validate that stopped leaves no report: nothing ships
    with pytest.raises(InputError, match="has not been through the gate"):
        install_model(gated, app_dir, "tflite-float32")


def test_cli_installs_and_maps_bad_input_to_exit_code_2(run_dir, app_dir, tmp_path):
    from typer.testing import CliRunner

    import toolkit.cli.android  # noqa: F401  (registers the command)
    from toolkit.cli.app import app

    runner = CliRunner()
    ok = runner.invoke(app, ["android", str(run_dir), "--app", str(app_dir), "--artifact", "tflite-int8-ptq"])
    assert ok.exit_code == 0, ok.output
    assert f"installed {app_dir / ASSETS_DIR / 'model.tflite'}" in ok.output
    bad = runner.invoke(app, ["android", str(tmp_path / "nope"), "--app", str(app_dir)])
    assert bad.exit_code == 2
    assert "no such run directory" in bad.output and "Traceback" not in bad.output


def test_installs_the_tflite_artifacts_of_a_pipeline_run(tiny_run, app_dir):
    model, contract_path = install_model(tiny_run, app_dir)  # the default: the QAT int8 model, gate passed
    assert json.loads(contract_path.read_text())["name"] == "tflite-int8-qat"
    names = sorted(p.parent.name for p in (tiny_run / "artifacts").glob("*/contract.json"))
    for name in names:
        if not name.startswith("tflite-"):
            with pytest.raises(InputError, match="the Android app runs TFLite models"):
                install_model(tiny_run, app_dir, name)
            continue
        model, contract_path = install_model(tiny_run, app_dir, name)
        assert model.read_bytes() == (tiny_run / "artifacts" / name / model.name).read_bytes()
        assert _assert_contract_describes(model, contract_path)["input"]["dtype"] in ("float32", "int8", "uint8")


def test_app_reads_where_install_writes_and_core_is_pure_kotlin():
    helper = (SAMPLE / "app/src/main/kotlin/dev/edgekit/digits/DigitClassifierHelper.kt").read_text()
    assert f'const val ASSET_DIR = "{ASSETS_DIR.name}"' in helper
    assert ASSETS_DIR.parent.as_posix() == "app/src/main/assets"
    gradle = (SAMPLE / "app/build.gradle.kts").read_text()
    assert 'noCompress += "tflite"' in gradle
    assert f'"src/main/assets/{ASSETS_DIR.name}/contract.json"' in gradle  # the build's "is a model installed?" check
    core_sources = list(CORE.rglob("*.kt"))
    assert core_sources
    for source in core_sources:
        assert not re.search(r"^import (android|androidx)\.", source.read_text(), re.M), source


@pytest.mark.kotlin
def test_kotlin_core_matches_python_golden_vectors(run_dir, tmp_path):
    kotlinc = shutil.which("kotlinc")
    if kotlinc is None:
        pytest.skip("kotlinc not installed (apt-get install kotlin)")
    missing = [str(jar) for jar in JUNIT_JARS if not jar.is_file()]
    if missing:
        pytest.skip(f"JUnit 4 not installed (apt-get install junit4): no {', '.join(missing)}")
    if not GSON_JAR.is_file():
        pytest.skip(f"Gson not installed (apt-get install libgoogle-gson-java): no {GSON_JAR}")
    contract = run_dir / "artifacts" / "tflite-int8-ptq" / "contract.json"
    golden = write_golden_vectors(tmp_path / "golden", json.loads(contract.read_text()))
    classes = tmp_path / "classes"
    classpath = os.pathsep.join(str(jar) for jar in [*JUNIT_JARS, GSON_JAR])
    compiled = subprocess.run(
        [
            kotlinc,
            "-Werror",  # every compiler warning fails: with ktlint, the Kotlin lint (.ci/run)
            "-cp",
            classpath,
            "-d",
            str(classes),
            str(CORE / "src/main/kotlin"),
            str(CORE / "src/test/kotlin"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert compiled.returncode == 0, compiled.stderr
    tests = subprocess.run(
        [
            shutil.which("kotlin") or "kotlin",
            "-cp",
            os.pathsep.join([str(classes), classpath]),
            "dev.edgekit.digits.core.RunCoreTestsKt",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EDGEKIT_GOLDEN": str(golden), "EDGEKIT_CONTRACT": str(contract)},
    )
    summary = re.search(r"core tests: (\d+) run, (\d+) failed, (\d+) skipped", tests.stdout)
    assert tests.returncode == 0 and summary, tests.stdout + tests.stderr
    run, failed, skipped = map(int, summary.groups())
    # Every golden test must have run: a skipped one would mean the vectors never reached the Kotlin side.
    assert (failed, skipped) == (0, 0) and run >= 25, summary.group(0)
