"""Outputs of the in-process TensorFlow runtimes kept between gates: scored again only for the same files, test set
and engine versions, with the same figures as when they were computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import make_run, tiny_config

from exporters.base import Artifact, Format, TensorSpec, Variant
from toolkit.gate import kept as references


def _artifact(run_path: Path, name: str) -> Artifact:
    artifact = Artifact(
        name,
        Format.TFJS,
        Variant.FLOAT32,
        "float",
        f"artifacts/{name}",
        "model.json",
        TensorSpec([28, 28, 1], "float32"),
        TensorSpec([10], "float32"),
        files={"model.json": {"sha256": "0", "size_bytes": 10}},
    )
    (run_path / artifact.path).mkdir(parents=True)
    (run_path / artifact.path / "contract.json").write_text(json.dumps(artifact.to_contract()))
    return artifact


@pytest.mark.unit
def test_kept_outputs_are_used_only_for_the_same_contract_engine_and_test_set(tmp_path: Path):
    run = make_run(tmp_path / "run")
    run.manifest["data"] = {"x_test_sha256": "abc"}
    a, b = _artifact(run.path, "tfjs-a"), _artifact(run.path, "tfjs-b")
    p = np.full((4, 10), 0.1, dtype=np.float32)
    references.store_evaluations(run, [(a, "tensorflow", "engine 1", p, 1.5, "T1")])
    found = references.load_evaluations(run, [(a, "tensorflow", "engine 1")], 4)
    assert np.array_equal(found[("tfjs-a", "tensorflow")][0], p) and found[("tfjs-a", "tensorflow")][1:] == (
        1.5,
        "T1",
    )
    assert references.load_evaluations(run, [(a, "tensorflow", "engine 2")], 4) == {}  # another version
    assert references.load_evaluations(run, [(a, "tensorflow", "engine 1")], 5) == {}  # other images
    assert references.load_evaluations(run, [(a, "another-runtime", "engine 1")], 4) == {}  # never evaluated there
    # A later gate that evaluates only b keeps a's outputs beside b's.
    references.store_evaluations(run, [(b, "tensorflow", "engine 1", p, 2.0, "T2")])
    both = references.load_evaluations(run, [(a, "tensorflow", "engine 1"), (b, "tensorflow", "engine 1")], 4)
    assert set(both) == {("tfjs-a", "tensorflow"), ("tfjs-b", "tensorflow")}
    contract = run.path / a.path / "contract.json"
    contract.write_text(contract.read_text().replace('"float32"', '"float16"', 1))  # re-exported, or edited
    assert set(references.load_evaluations(run, [(a, "tensorflow", "engine 1")], 4)) == set()
    run.manifest["data"] = {"x_test_sha256": "other"}  # another test set
    assert references.load_evaluations(run, [(b, "tensorflow", "engine 1")], 4) == {}
    run.evaluations_path.write_bytes(b"not an npz")
    assert references.load_evaluations(run, [(b, "tensorflow", "engine 1")], 4) == {}


def test_a_second_gate_scores_the_kept_tensorflow_outputs_with_the_same_figures(tiny_run_copy: Path):
    """The tiny run's pipeline gate kept its tensorflow outputs: `validate` scores them without
    TensorFlow, to the same figures; naming the runtime with -r evaluates it afresh."""
    from toolkit.flow.validate import validate

    first = json.loads((tiny_run_copy / "report.json").read_text())
    config = tiny_config()
    second = validate(tiny_run_copy, config)
    figures = ("passed", "accuracy", "agreement", "mean_abs_prob_delta", "max_abs_prob_delta", "mcnemar_p")

    def rows(report):
        return {(e["name"], e["runtime"]): e for e in report["artifacts"]}

    kept = {k: e for k, e in rows(second).items() if e["runtime"] == "tensorflow"}
    assert len(kept) >= 2 and all(e["kept_from"] == first["created"] for e in kept.values())
    assert all(e["kept_from"] is None for e in second["artifacts"] if e["runtime"] == "litert")
    for key, entry in rows(second).items():
        assert {f: entry[f] for f in figures} == {f: rows(first)[key][f] for f in figures}, key
    fresh = validate(
        tiny_run_copy,
        config.model_copy(update={"parity": config.parity.model_copy(update={"runtimes": ["tensorflow"]})}),
    )
    evaluated = [e for e in fresh["artifacts"] if e["runtime"] == "tensorflow"]
    assert evaluated and all(e["kept_from"] is None and not e.get("from_previous_run") for e in evaluated)
    for entry in evaluated:
        assert {f: entry[f] for f in figures} == {f: rows(first)[(entry["name"], "tensorflow")][f] for f in figures}
