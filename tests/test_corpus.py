"""The corpus of user models (tests/corpus.py) through a real `edgekit export --model --data`: every artifact
gated in LiteRT, Node and Chromium, then its TF.js artifacts on the browser matrix. Every artifact must load and run
in each (TF.js as a layers or a graph model) and the float ones must pass; a quantized one may fail, on its numbers
only: the gate reports real losses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import DATASETS, RUNTIME_COLUMNS, TABLE_HEAD, chosen, export_entry, table_row, write_dataset
from support import skip_unless

from toolkit.runtimes import RUNTIMES

pytestmark = [pytest.mark.corpus, pytest.mark.node, pytest.mark.browser]
TABLE = Path(__file__).resolve().parent.parent / "test-artifacts" / "corpus.md"
MATRIX_TABLE = TABLE.with_name("corpus-matrix.md")


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    for name in RUNTIME_COLUMNS:
        skip_unless(RUNTIMES[name].unavailable())
    out = tmp_path_factory.mktemp("corpus")
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text("\n".join(TABLE_HEAD) + "\n")
    MATRIX_TABLE.write_text(f"| model | artifact | {' | '.join(MATRIX)} |\n|---|---|{'---:|' * len(MATRIX)}\n")
    return out, {key: write_dataset(key, out) for key in DATASETS}


EDGEKIT = [sys.executable, "-m", "toolkit"]
# Every browser target but WebGPU, which SwiftShader runs at about 0.2 s per image (docs/performance.md): CI runs that
# on the tiny run (tests/test_browser_targets.py). On CI's two models the matrix takes about 3 minutes each;
# EDGEKIT_FULL_CORPUS=1 runs it on every model.
MATRIX = ["chromium-webgl", "chromium-webgl-f16", "firefox-wasm", "firefox-webgl", "webkit-wasm", "webkit-webgl"]
MATRIX_IN_CI = ("keras3-separable-28", "residual-32")


@pytest.mark.parametrize("entry", chosen(), ids=[e.name for e in chosen()])
def test_user_model_exports_and_passes_in_every_runtime(corpus_dir, entry):
    out, data = corpus_dir
    done, report = export_entry(entry, out, data[entry.data], EDGEKIT)
    with TABLE.open("a") as table:  # the table in docs/own-model.md, as measured by this run
        table.write(table_row(entry, report or {"artifacts": []}) + "\n")
    # 0: every artifact passed; 1: the gate found a quantized artifact that lost accuracy (which it must report,
    # not hide). Anything else is a crash or a refusal.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert report["not_verified"] == []
    results = report["artifacts"]
    names = {a["name"] for a in results}
    assert {"tflite-float32", "tflite-int8-ptq", "tfjs-float32", "tfjs-uint8"} <= names
    for name in names:
        ran = {a["runtime"]: a for a in results if a["name"] == name}
        wanted = {"litert"} if name.startswith("tflite") else {"tfjs-node-wasm", "tfjs-chromium-wasm"}
        if name.startswith("saved_model"):
            wanted = {"tensorflow"}
        assert wanted <= set(ran), f"{name}: evaluated only in {sorted(ran)}"
        for runtime in wanted:  # loaded and ran: a verdict on numbers, never a load or runtime error
            assert not ran[runtime]["error"], f"{name} [{runtime}]: {ran[runtime]['error']}"
        if "float32" in name or "float16" in name or name.startswith("saved_model"):
            assert all(ran[r]["passed"] for r in wanted), f"{name}: a float artifact failed: {ran}"
        if name.startswith("tfjs"):  # the same wasm kernels in Node and in the browser: the same verdict
            assert ran["tfjs-node-wasm"]["passed"] == ran["tfjs-chromium-wasm"]["passed"]
    assert (done.returncode == 0) == all(a["passed"] for a in results)


@pytest.mark.parametrize("entry", chosen(MATRIX_IN_CI), ids=[e.name for e in chosen(MATRIX_IN_CI)])
def test_user_model_runs_on_every_browser_engine_and_backend(corpus_dir, entry):
    """`edgekit validate RUN --targets ...` on the run the test above exported: each TF.js artifact on every target,
    on the whole test set, each named by engine and backend; a float artifact passes on all of them."""
    run = corpus_dir[0] / f"run-{entry.name}"
    if not (run / "report.json").is_file():
        pytest.skip(f"{run.name} was not exported (test_user_model_exports_and_passes_in_every_runtime)")
    runtimes = [f"tfjs-{target}" for target in MATRIX]
    for name in runtimes:
        skip_unless(RUNTIMES[name].unavailable())
    command = [*EDGEKIT, "validate", str(run), "--targets", ",".join(MATRIX)]
    done = subprocess.run([*command, *(f"-r{name}" for name in runtimes)], capture_output=True, text=True, cwd=run)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads((run / "report.json").read_text())
    assert report["not_verified"] == [] and report["inconclusive"] == []
    ran = {(a["name"], a["runtime"]): a for a in report["artifacts"] if a["runtime"] in runtimes}
    tfjs = sorted({a["name"] for a in report["artifacts"] if a["format"] == "tfjs"})
    assert len(tfjs) >= 3 and set(ran) == {(name, runtime) for name in tfjs for runtime in runtimes}
    for (name, runtime), result in ran.items():
        assert not result["error"], f"{name} [{runtime}]: {result['error']}"
        assert f"tfjs-{result['engine']}-{result['backend']}" == runtime
        assert result["images"] == report["data"]["test"]
        if "float" in name:
            assert result["passed"], f"{name} failed on {runtime}: {result['reasons']}"
    with MATRIX_TABLE.open("a") as table:  # agreement with Keras per target, as measured by this run
        for name in tfjs:
            row = [
                f"{ran[name, r]['agreement']:.2f} %" + ("" if ran[name, r]["passed"] else " (failed)") for r in runtimes
            ]
            table.write(f"| {entry.name} | {name} | " + " | ".join(row) + " |\n")
    assert (done.returncode == 0) == report["passed"]
