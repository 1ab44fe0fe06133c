"""The flow end to end on tiny synthetic data, through the CLI: run directory, contracts, report, the gate failing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import TINY_TEST_IMAGES
from typer.testing import CliRunner

from exporters.base import read_contract, sha256_file
from toolkit.cli import app

runner = CliRunner()
REPORT_FIELDS = {
    "name",
    "format",
    "path",
    "runtime",
    "accuracy",
    "reference_accuracy",
    "tolerance",
    "passed",
    "size_bytes",
}
EXPECTED_ARTIFACTS = {
    "tflite-float32",
    "tflite-float16",
    "tflite-dynamic",
    "tflite-int8-ptq",
    "tflite-int8-qat",
    "tflite-pixels-float32",
    "tflite-pixels-uint8",
    "tfjs-float32",
    "tfjs-float16",
    "tfjs-uint8",
    "saved_model-float",
    "saved_model-qat",
}


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_tiny_run_passes_and_reports_every_artifact(tiny_run: Path):
    report = json.loads((tiny_run / "report.json").read_text())
    assert report["passed"] is True
    assert {a["name"] for a in report["artifacts"]} == EXPECTED_ARTIFACTS
    for entry in report["artifacts"]:
        assert REPORT_FIELDS <= entry.keys()
        assert entry["passed"] and entry["images"] == TINY_TEST_IMAGES
        assert (tiny_run / entry["path"]).is_dir()
    assert report["reference_accuracy"]["float"] > 80  # the synthetic digits are learnable (chance: 10 %)
    assert "PASSED" in (tiny_run / "report.md").read_text()
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert set(manifest["steps"]) == {"train", "qat", "export", "validate"}
    assert manifest["steps"]["train"]["history"]["val_loss"]
    assert (tiny_run / "checkpoints" / "best.h5").is_file()


def test_contracts_describe_the_files(tiny_run: Path):
    from ai_edge_litert.interpreter import Interpreter

    for name in ("tflite-float32", "tflite-int8-ptq", "tflite-int8-qat"):
        contract = read_contract(tiny_run / "artifacts" / name)
        model = tiny_run / "artifacts" / name / "model.tflite"
        assert contract.sha256 == sha256_file(model) and contract.size_bytes == model.stat().st_size
        interpreter = Interpreter(model_path=str(model))
        for spec, detail in (
            (contract.input, interpreter.get_input_details()[0]),
            (contract.output, interpreter.get_output_details()[0]),
        ):
            assert [1, *spec.shape] == detail["shape"].tolist()
            assert spec.dtype == np.dtype(detail["dtype"]).name
            if spec.dtype == "int8":
                assert (spec.scale, spec.zero_point) == pytest.approx(detail["quantization"])
    int8 = read_contract(tiny_run / "artifacts" / "tflite-int8-qat")
    assert int8.input.dtype == int8.output.dtype == "int8"
    assert int8.size_bytes < 0.3 * read_contract(tiny_run / "artifacts" / "tflite-float32").size_bytes


def test_tampered_quantization_fails_the_gate_loudly(tiny_run_copy: Path):
    contract_path = tiny_run_copy / "artifacts" / "tflite-int8-ptq" / "contract.json"
    contract = json.loads(contract_path.read_text())
    contract["input"]["scale"] *= 8  # the mistake users make: feeding int8 with the wrong scale
    contract_path.write_text(json.dumps(contract))
    result = invoke("validate", tiny_run_copy, "--runtime", "litert")
    assert result.exit_code == 1
    # The wrong scale shows as wrong probabilities (and, where it moves the argmax, as a significant drop).
    assert "tflite-int8-ptq [litert]" in result.output and "probabilities off" in result.output
    assert "Traceback" not in result.output
    report = json.loads((tiny_run_copy / "report.json").read_text())
    assert report["passed"] is False
    assert [a["name"] for a in report["artifacts"] if not a["passed"]] == ["tflite-int8-ptq"]
    # The other runtimes' results stay, marked as from the previous run; only litert was evaluated now.
    assert {a["runtime"] for a in report["artifacts"] if not a.get("from_previous_run")} == {"litert"}


def test_tolerance_option_changes_the_verdict(tiny_run_copy: Path, tmp_path: Path):
    """A real drop (int8 calibrated on blank images) passes under a margin above it and fails under one below it."""
    import shutil

    from exporters import Variant, tflite
    from toolkit.modeling.keras_files import load_run_model
    from toolkit.run import Run

    run = Run.open(tiny_run_copy)
    target = run.artifact_dir("tflite-int8-ptq")
    shutil.rmtree(target)
    model = load_run_model(run, "float")
    blank = np.zeros((8, *model.input_shape[1:]), np.float32)
    where = dict(name="tflite-int8-ptq", source="float", run_dir=run.path, classifier=run.classifier)
    tflite.export(model, target, Variant.INT8, representative=blank, **where)
    # Only the margin is under test: the floors that would also catch this file are opened wide.
    relaxed = tmp_path / "relaxed.toml"
    relaxed.write_text("[parity]\nmin_agreement = { int8 = 0.0 }\nmax_mean_prob_error = { int8 = 1.0 }\n")
    lenient = invoke("validate", run.path, "-r", "litert", "-c", relaxed, "-t", "int8=100")
    entry = next(a for a in run.report()["artifacts"] if a["name"] == "tflite-int8-ptq" and a["runtime"] == "litert")
    drop = -entry["accuracy_delta"]
    assert drop > 1 and entry["mcnemar_p_drop"] < 0.01, entry
    assert lenient.exit_code == 0 and entry["passed"] and entry["tolerance"] == 100, lenient.output
    strict = invoke("validate", run.path, "-r", "litert", "-c", relaxed, "-t", f"int8={drop / 2:.2f}")
    assert strict.exit_code == 1 and "tflite-int8-ptq [litert]" in strict.output, strict.output
    assert "points below the reference" in strict.output


def test_failed_export_keeps_the_previous_artifacts(tiny_run_copy: Path, monkeypatch):
    from exporters import tfjs

    before = sorted(p.name for p in (tiny_run_copy / "artifacts").iterdir())

    def broken(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(tfjs, "export", broken)
    result = invoke("export", tiny_run_copy)
    assert result.exit_code == 1 and "exporting tfjs-float32 failed: converter crashed" in result.output
    assert sorted(p.name for p in (tiny_run_copy / "artifacts").iterdir()) == before
    assert not (tiny_run_copy / ".staging").exists()
    assert (tiny_run_copy / "report.json").exists()  # the old verdict still describes the old files


@pytest.mark.parametrize(
    "args, message",
    [
        (["validate", "{tmp}"], "not an edgekit run directory"),
        (["train", "--data", "{tmp}/missing.npz", "--out", "{tmp}/run"], "data not found"),
        (["export"], "give either a RUN_DIR or --model"),
        (["export", "--model", "{tmp}/nope.h5"], "model not found"),
        (["validate", "{tmp}", "-t", "int8"], "expected VARIANT=POINTS"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args, message):
    result = invoke(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_corrupt_data_stops_before_training(tmp_path: Path, tiny_data: Path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(tiny_data.read_bytes()[: tiny_data.stat().st_size // 2])
    result = invoke("train", "--data", corrupt, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "corrupt.npz" in result.output
    assert not (tmp_path / "run").exists()


def test_unknown_runtime_is_bad_usage(tiny_run: Path):
    result = invoke("validate", tiny_run, "-r", "onnxruntime")
    assert result.exit_code == 2 and "unknown runtime onnxruntime" in result.output


def test_verbose_shows_the_traceback(tmp_path: Path):
    result = invoke("--verbose", "validate", tmp_path)
    assert result.exit_code != 0 and type(result.exception).__name__ == "InputError"


def test_existing_run_directory_is_not_overwritten(tiny_run: Path, tiny_data: Path):
    result = invoke("train", "--data", tiny_data, "--out", tiny_run)
    assert result.exit_code == 2 and "already exists" in result.output


def test_version_and_help():
    assert invoke("--version").output.strip() == "edgekit 0.1.0"
    for command in ("train", "qat", "export", "validate", "pipeline"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_validate_accepts_a_relative_run_path(tiny_run_copy: Path, monkeypatch):
    from toolkit.runtimes import RUNTIMES

    reason = RUNTIMES["tfjs-node-wasm"].unavailable()
    if reason:
        pytest.skip(reason)
    monkeypatch.chdir(tiny_run_copy.parent)  # runtimes that work in another directory must not lose the run
    result = invoke("validate", tiny_run_copy.name, "-r", "tfjs-node-wasm", "-r", "litert")
    assert result.exit_code == 0, result.output
    entries = json.loads((tiny_run_copy / "report.json").read_text())["artifacts"]
    assert {a["runtime"] for a in entries if not a.get("from_previous_run")} == {"tfjs-node-wasm", "litert"}


@pytest.mark.parametrize("name", ["tflite-float32", "tflite-float16", "tflite-int8-ptq", "tflite-int8-qat"])
def test_tflite_runtime_fallback_gives_the_same_outputs(tiny_run: Path, name: str, monkeypatch):
    """Where only tflite-runtime 2.14 is installed, the litert runtime uses it (it cannot run the dynamic-range
    model: TF 2.19 writes FULLY_CONNECTED version 12, which 2.14 does not know)."""
    tflite_runtime = pytest.importorskip("tflite_runtime.interpreter")
    from toolkit.data.datasets import load_data
    from toolkit.runtimes import litert

    images = load_data(json.loads((tiny_run / "manifest.json").read_text())["data"]["path"]).x_test
    artifact = read_contract(tiny_run / "artifacts" / name)
    expected = litert.load(tiny_run / artifact.path, artifact).predict(images)
    monkeypatch.setattr(litert, "_interpreter_class", lambda: tflite_runtime.Interpreter)
    predictor = litert.load(tiny_run / artifact.path, artifact)
    assert isinstance(predictor.interpreter, tflite_runtime.Interpreter)
    probabilities = predictor.predict(images)
    if artifact.output.scale is None:
        np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    else:  # the two builds' integer kernels round differently: a few output steps (1/256), same decisions
        assert np.abs(probabilities - expected).max() <= 5 * artifact.output.scale
        assert np.mean(probabilities.argmax(1) == expected.argmax(1)) >= 0.99
