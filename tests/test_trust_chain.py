"""The run is evidence, not trust (issue 22): each way a run directory was edited into a pass is refused or
recomputed. N1-N5, S1 and S3 are the issue's cases; toolkit/gate/trust.py is the chain they test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from exporters.base import describe_files
from toolkit.cli import app
from toolkit.gate import kept
from toolkit.run import Run

runner = CliRunner()


def validate(run: Path, *args: str):
    return runner.invoke(app, ["validate", str(run), *args])


def entries(run: Path) -> dict[tuple[str, str], dict]:
    return {(a["name"], a["runtime"]): a for a in json.loads((run / "report.json").read_text())["artifacts"]}


def resign(directory: Path, **changes) -> None:
    """Rewrite a contract as an attacker would: the files' hashes recomputed, other fields changed."""
    contract = json.loads((directory / "contract.json").read_text())
    files = describe_files(directory)
    contract.update(files=files, sha256=files[contract["main_file"]]["sha256"], **changes)
    (directory / "contract.json").write_text(json.dumps(contract))


@pytest.mark.parametrize("outside", ["relative", "absolute"])
def test_n1_a_contract_path_out_of_the_run_is_not_followed(tiny_run_copy: Path, tmp_path: Path, outside: str):
    good_copy = tmp_path / "elsewhere" / "good-copy"
    shutil.copytree(tiny_run_copy / "artifacts" / "tflite-int8-qat", good_copy)
    target = tiny_run_copy / "artifacts" / "tflite-int8-qat"
    shutil.copy(tiny_run_copy / "artifacts" / "tflite-float16" / "model.tflite", target / "model.tflite")
    path = str(good_copy) if outside == "absolute" else "../../" + str(good_copy.relative_to(tmp_path))
    contract = json.loads((target / "contract.json").read_text())
    (target / "contract.json").write_text(json.dumps({**contract, "path": path}))
    result = validate(tiny_run_copy, "-r", "litert")
    assert result.exit_code == 1, result.output
    error = entries(tiny_run_copy)[("tflite-int8-qat", "files")]["error"]
    # and the file judged is the one in the run (the float16 file), not the good copy the path pointed at
    assert "is not the artifact's own directory" in error and "bytes, the contract says" in error


def test_n4_labels_swapped_in_contracts_fail_those_artifacts(tiny_run_copy: Path):
    for name in ("tflite-float32", "tflite-int8-ptq"):
        directory = tiny_run_copy / "artifacts" / name
        labels = json.loads((directory / "contract.json").read_text())["labels"]
        labels[3], labels[5] = labels[5], labels[3]
        resign(directory, labels=labels)
    result = validate(tiny_run_copy, "-r", "litert")
    assert result.exit_code == 1, result.output
    for name in ("tflite-float32", "tflite-int8-ptq"):
        assert "labels differ from what the run recorded" in entries(tiny_run_copy)[(name, "files")]["error"]


def test_n5_results_about_other_files_do_not_carry_over(tiny_run_copy: Path):
    """TF.js weights negated and the contract re-signed, then a gate in LiteRT only: the old TF.js results are about
    the old files, so nothing vouches for the new ones (INCONCLUSIVE, exit 3), and they cannot ship."""
    from toolkit.gate.trust import shippable

    directory = tiny_run_copy / "artifacts" / "tfjs-float32"
    shard = next(directory.glob("*.bin"))
    shard.write_bytes((-np.frombuffer(shard.read_bytes(), dtype="<f4")).astype("<f4").tobytes())
    resign(directory)
    result = validate(tiny_run_copy, "-r", "litert")
    assert result.exit_code == 3, result.output
    report = json.loads((tiny_run_copy / "report.json").read_text())
    assert not any(a["name"] == "tfjs-float32" for a in report["artifacts"])
    assert any(d.startswith("tfjs-float32 [tfjs-node-wasm]: its files changed") for d in report["inconclusive"])
    with pytest.raises(Exception, match="not about the files of 'tfjs-float32'"):
        shippable(Run.open(tiny_run_copy), "tfjs-float32")


def test_s1_no_report_survives_a_gate_that_stopped(tiny_run_copy: Path):
    (tiny_run_copy / "artifacts" / "tflite-float32" / "contract.json").write_text('{"edgekit_contract": 2, "na')
    result = validate(tiny_run_copy)
    assert result.exit_code == 2 and "unreadable contract" in result.output
    assert not (tiny_run_copy / "report.json").exists() and not (tiny_run_copy / "report.md").exists()
    refused = runner.invoke(app, ["android", str(tiny_run_copy), "--artifact", "tflite-int8-qat", "--app", "nowhere"])
    assert refused.exit_code == 2 and "has not been through the gate" in refused.output


@pytest.mark.unit
def test_n2_n3_kept_outputs_edited_or_made_elsewhere_are_not_used(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = Run(tmp_path / "run", {"steps": {}, "data": {"x_test_sha256": "t"}})
    (run.path / "models").mkdir(parents=True)
    (run.path / "models" / "float.h5").write_bytes(b"the model")
    good = np.full((4, 2), 0.5, np.float32)
    kept.store(run, {"float": good})
    assert kept.load(run, ["float"], 4) is not None
    with np.load(run.references_path) as data:  # N3: rewritten to another artifact's outputs, key copied over
        arrays = {name: data[name] for name in data.files}
    arrays["p_float"] = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    np.savez(run.references_path, **arrays)
    assert kept.load(run, ["float"], 4) is None
    kept.store(run, {"float": np.full((4, 2), 0.25, np.float32)})  # rows summing to 0.5: not probabilities
    assert kept.load(run, ["float"], 4) is None
    kept.store(run, {"float": good})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-machine"))
    assert kept.load(run, ["float"], 4) is None  # N2: sealed by another key, e.g. copied from another machine


def test_s3_a_model_whose_outputs_are_nan_is_refused(tmp_path: Path, tiny_data: Path):
    import tf_keras as keras

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    kernel, bias = model.layers[0].get_weights()
    model.layers[0].set_weights([kernel, np.full_like(bias, np.nan)])
    model.save(tmp_path / "nan.h5")
    result = runner.invoke(app, ["export", "--model", str(tmp_path / "nan.h5"), "--data", str(tiny_data)])
    assert result.exit_code == 2 and "outputs are NaN or infinite on 64 of 64 sample images" in result.output


@pytest.mark.unit
def test_s3_a_reference_with_nan_outputs_vouches_for_nothing():
    from toolkit.gate.verdict import reference_problem

    outputs = np.eye(10, dtype=np.float32)[np.arange(100) % 10]
    outputs[7] = np.nan
    problem = reference_problem(outputs, np.arange(100) % 10, 0.01)
    assert problem and "NaN or infinite outputs on 1 of 100" in problem
