"""The gate cannot be fooled by the files on disk (issue 10): every case a careless or hostile user tried fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from toolkit.config import ParityConfig
from toolkit.errors import ParityError


def strict_report(run: Path) -> dict:
    """report.json parsed by a strict parser: NaN or Infinity in it is an error, as in JavaScript's JSON.parse."""

    def reject(constant):
        raise ValueError(f"report.json holds {constant}")

    return json.loads((run / "report.json").read_text(), parse_constant=reject)


def gate(run: Path) -> dict[str, dict]:
    """Run the gate in LiteRT on a tampered run: it must fail. Returns the report's entries by artifact name."""
    from toolkit.config import Config
    from toolkit.flow.validate import validate

    config = Config()
    config.parity = ParityConfig(runtimes=["litert"])
    with pytest.raises(ParityError):
        validate(run, config)
    report = strict_report(run)
    assert report["passed"] is False
    return {a["name"]: a for a in report["artifacts"]}


def test_the_untouched_tiny_run_passes_in_litert(tiny_run_copy: Path):
    """The control: without tampering, the same gate passes (so every failure below is the tampering's)."""
    from toolkit.config import Config
    from toolkit.flow.validate import validate

    config = Config()
    config.parity = ParityConfig(runtimes=["litert"])
    report = validate(tiny_run_copy, config)
    assert report["passed"] and all(a["both_right"] is not None for a in report["artifacts"])


def test_one_bit_flip_fails(tiny_run_copy: Path):
    path = tiny_run_copy / "artifacts" / "tflite-float32" / "model.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    entry = gate(tiny_run_copy)["tflite-float32"]
    assert not entry["passed"] and "sha256 differs" in entry["error"]


def test_ten_thousand_sign_bit_flips_fail(tiny_run_copy: Path):
    path = tiny_run_copy / "artifacts" / "tflite-float32" / "model.tflite"
    weights = np.frombuffer(path.read_bytes(), np.uint8).copy()
    assert len(weights) > 40_000
    # The sign bit of 10,000 little-endian float32 words: the top bit of every fourth byte from the file's middle.
    start = (len(weights) // 2 - 20_000) // 4 * 4
    weights[start + 3 : start + 40_000 : 4] ^= 0x80
    path.write_bytes(weights.tobytes())
    assert not gate(tiny_run_copy)["tflite-float32"]["passed"]


@pytest.mark.parametrize(
    ("victim", "impostor"), [("tflite-int8-qat", "tflite-int8-ptq"), ("tflite-float32", "tflite-float16")]
)
def test_a_file_replaced_by_another_artifacts_fails_and_the_real_size_is_reported(tiny_run_copy, victim, impostor):
    source = tiny_run_copy / "artifacts" / impostor / "model.tflite"
    shutil.copyfile(source, tiny_run_copy / "artifacts" / victim / "model.tflite")
    entry = gate(tiny_run_copy)[victim]
    assert not entry["passed"] and "not what the run recorded" in entry["error"]
    assert entry["size_bytes"] == source.stat().st_size
    markdown = (tiny_run_copy / "report.md").read_text()
    assert f"| {victim} | files |" in markdown and f"{source.stat().st_size / 1024:.0f} | FAIL |" in markdown


def test_a_deleted_artifact_directory_fails(tiny_run_copy: Path):
    shutil.rmtree(tiny_run_copy / "artifacts" / "tflite-dynamic")
    entry = gate(tiny_run_copy)["tflite-dynamic"]
    assert not entry["passed"] and "the run lists this artifact" in entry["error"]


def test_a_deleted_contract_with_a_garbage_model_fails(tiny_run_copy: Path):
    directory = tiny_run_copy / "artifacts" / "tflite-int8-ptq"
    (directory / "contract.json").unlink()
    (directory / "model.tflite").write_bytes(b"garbage" * 1000)
    assert not gate(tiny_run_copy)["tflite-int8-ptq"]["passed"]


def edit_contract(run: Path, name: str, tensor: str, **changes) -> None:
    path = run / "artifacts" / name / "contract.json"
    contract = json.loads(path.read_text())
    contract[tensor].update(changes)
    path.write_text(json.dumps(contract))


def test_an_edited_output_zero_point_fails_on_probabilities(tiny_run_copy: Path):
    contract = json.loads((tiny_run_copy / "artifacts" / "tflite-int8-ptq" / "contract.json").read_text())
    assert contract["output"]["zero_point"] == -128 and contract["output_kind"] == "probabilities"
    edit_contract(tiny_run_copy, "tflite-int8-ptq", "output", zero_point=-100)
    entry = gate(tiny_run_copy)["tflite-int8-ptq"]
    assert not entry["passed"] and entry["mean_abs_prob_delta"] > 0.1
    assert any("probabilities off" in r for r in entry["reasons"])


def test_a_doubled_input_scale_fails(tiny_run_copy: Path):
    contract = json.loads((tiny_run_copy / "artifacts" / "tflite-int8-ptq" / "contract.json").read_text())
    edit_contract(tiny_run_copy, "tflite-int8-ptq", "input", scale=contract["input"]["scale"] * 2)
    assert not gate(tiny_run_copy)["tflite-int8-ptq"]["passed"]


def test_an_artifact_that_outputs_nan_fails_and_the_report_stays_strict_json(tiny_run_copy: Path):
    """A NaN model cannot enter a run (its import is refused); an artifact replaced by one, correctly signed, fails."""
    import shutil

    import tf_keras as keras

    from exporters import Variant, tflite
    from toolkit.run import Run

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    kernel, bias = model.get_weights()
    kernel[0, 0] = np.nan  # the first pixel is 0 often, but NaN * 0 is NaN: every output is NaN
    model.set_weights([kernel, bias])
    run = Run.open(tiny_run_copy)
    shutil.rmtree(run.artifact_dir("tflite-float32"))
    where = dict(name="tflite-float32", source="float", run_dir=run.path, classifier=run.classifier)
    tflite.export(model, run.artifact_dir("tflite-float32"), Variant.FLOAT32, **where)
    entry = gate(tiny_run_copy)["tflite-float32"]  # strict JSON: gate() parses the report strictly
    assert entry["error"] is None and not entry["passed"] and entry["max_abs_prob_delta"] is None
    assert any("NaN" in reason for reason in entry["reasons"])
