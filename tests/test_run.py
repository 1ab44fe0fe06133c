"""Run, the one reader of a run directory; later steps read what earlier ones recorded, not today's config."""

from __future__ import annotations

import json

import pytest
from support import make_run

from exporters.base import Format, TensorSpec, Variant, finish_artifact
from toolkit.config import Config
from toolkit.errors import InputError
from toolkit.flow.qat import held_out
from toolkit.run import Run

pytestmark = pytest.mark.unit


def add_artifact(run: Run, name: str, fmt: Format) -> None:
    directory = run.artifacts_dir / name
    directory.mkdir(parents=True)
    (directory / "model.bin").write_bytes(b"weights")
    finish_artifact(
        directory,
        run.path,
        name=name,
        format=fmt,
        variant=Variant.FLOAT32,
        source="float",
        main_file="model.bin",
        input=TensorSpec(shape=[28, 28], dtype="float32"),
        output=TensorSpec(shape=[10], dtype="float32"),
    )


@pytest.fixture
def run(tmp_path) -> Run:
    run = make_run(tmp_path / "run")
    add_artifact(run, "tflite-float32", Format.TFLITE)
    add_artifact(run, "tfjs-float32", Format.TFJS)
    return run


def test_artifacts_by_format_and_name(run):
    assert [a.name for a in run.artifacts()] == ["tfjs-float32", "tflite-float32"]
    assert [a.name for a in run.artifacts(Format.TFJS)] == ["tfjs-float32"]
    assert run.artifact("tflite-float32").format is Format.TFLITE
    assert run.artifact_dir(run.artifact("tfjs-float32")) == run.path / "artifacts" / "tfjs-float32"
    with pytest.raises(InputError, match=r"no artifact 'nope' \(it has: tfjs-float32, tflite-float32\)"):
        run.artifact("nope")


def test_a_damaged_contract_is_a_one_line_input_error(run):
    (run.artifacts_dir / "tfjs-float32" / "contract.json").write_text('{"name": "tfjs-float32", "format": "webgpu"')
    with pytest.raises(InputError, match="tfjs-float32/contract.json: unreadable contract") as caught:
        run.artifacts()
    assert "\n" not in str(caught.value)


def test_report_reads_what_the_gate_wrote_and_refuses_what_it_did_not(run):
    assert run.report() is None
    entries = [
        {
            "name": "tfjs-float32",
            "format": "tfjs",
            "runtime": "tfjs-node-wasm",
            "passed": True,
            "accuracy": 99.1,
            "accuracy_delta": 0.0,
            "agreement": 100.0,
        }
    ]
    (run.path / "report.json").write_text(json.dumps({"passed": True, "artifacts": entries}))
    assert run.report()["artifacts"] == entries
    (run.path / "report.json").write_text('{"passed": tru')
    with pytest.raises(InputError, match="report.json: unreadable"):
        run.report()
    (run.path / "report.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not an edgekit report"):
        run.report()


def test_open_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(InputError, match="no such run directory"):
        Run.open(tmp_path / "missing")
    with pytest.raises(InputError, match=r"not an edgekit run directory \(no manifest.json\)"):
        Run.open(tmp_path)


def test_later_steps_use_the_recorded_seed_and_hold_out(run):
    config = Config()  # today's defaults: seed 42, hold-out 5000
    run.record("train", {"config": {**config.to_dict()["train"], "seed": 7, "validation_size": 123}})
    reopened = Run.open(run.path)
    assert reopened.step_settings("train")["seed"] == 7
    assert reopened.recorded_seed(config.train.seed) == 7
    assert held_out(reopened, config, data=None) == 123


def test_an_imported_model_keeps_the_seed_it_was_imported_with(run):
    run.record("import", {"config": {"seed": 11}})
    assert Run.open(run.path).recorded_seed(Config().train.seed) == 11
    assert make_run(run.path.parent / "empty").recorded_seed(Config().train.seed) == 42
