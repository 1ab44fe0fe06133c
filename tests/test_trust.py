"""Only what passed ships: an artifact leaves the run when its files are those of its contract and the current
report says these very files passed (toolkit.gate.trust.shippable, used by `edgekit android` and `serve`)."""

from __future__ import annotations

import json

import pytest
from test_run import add_artifact

from exporters.base import Format
from toolkit.errors import InputError, ParityError
from toolkit.gate.trust import shippable
from toolkit.run import Run

pytestmark = pytest.mark.unit


def report(run: Run, verdict: str, digest: str | None) -> None:
    entry = {"name": "tfjs-float32", "runtime": "tfjs-node-wasm", "format": "tfjs", "passed": verdict == "passed"}
    entry |= {"verdict": verdict, "accuracy": 99.0, "accuracy_delta": 0.0, "agreement": 100.0}
    document = {"passed": verdict == "passed", "verdict": verdict, "artifacts": [{**entry, "digest": digest}]}
    run.report_path.write_text(json.dumps(document))


def test_ships_only_the_files_that_passed(tmp_path):
    from support import make_run

    run = make_run(tmp_path / "run")
    add_artifact(run, "tfjs-float32", Format.TFJS)
    artifact = run.artifact("tfjs-float32")
    with pytest.raises(InputError, match="has not been through the gate"):
        shippable(run, "tfjs-float32")
    report(run, "passed", artifact.digest)
    assert shippable(run, "tfjs-float32").name == "tfjs-float32"
    report(run, "passed", "a report about other files")
    with pytest.raises(InputError, match="not about the files of 'tfjs-float32'"):
        shippable(run, "tfjs-float32")
    for verdict in ("failed", "inconclusive"):
        report(run, verdict, artifact.digest)
        with pytest.raises(ParityError, match=f"did not pass the gate \\(tfjs-node-wasm {verdict}"):
            shippable(run, "tfjs-float32")
    report(run, "passed", artifact.digest)
    (run.artifact_dir(artifact) / "model.bin").write_bytes(b"weights, edited")
    with pytest.raises(InputError, match="files do not match its contract"):
        shippable(run, "tfjs-float32")
