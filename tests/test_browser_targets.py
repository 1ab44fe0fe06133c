"""The browser matrix: TF.js on wasm, WebGL, WebGL with float16 textures and WebGPU in Chromium, and on wasm and
WebGL in Firefox and WebKit; chosen with --targets, reported per engine and backend, never passed when not run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import build_tiny_run, sample_images, skip_unless
from typer.testing import CliRunner

from exporters.base import read_contract
from toolkit.cli import app
from toolkit.config import load_config
from toolkit.errors import InputError
from toolkit.runtimes import RUNTIMES, chosen, tfjs_browser
from toolkit.runtimes.tfjs_browser import TARGETS, Target, target_unavailable

TODAY = {"litert", "tfjs-node-wasm", "tfjs-chromium-wasm", "tensorflow"}


@pytest.mark.unit
def test_the_default_gate_runs_todays_runtimes_and_all_runs_the_matrix():
    assert chosen(None) == chosen([]) == chosen(["default"]) == TODAY
    assert chosen(["all"]) == set(RUNTIMES)
    assert chosen(["chromium-webgl-f16"]) == TODAY | {"tfjs-chromium-webgl-f16"}
    matrix = [r for r in RUNTIMES.values() if not r.default and r.name.startswith("tfjs-")]
    assert {(r.engine, r.backend) for r in matrix} == {
        ("chromium", "webgl"),
        ("chromium", "webgl-f16"),
        ("chromium", "webgpu"),
        ("firefox", "wasm"),
        ("firefox", "webgl"),
        ("webkit", "wasm"),
        ("webkit", "webgl"),
    }
    assert all(r.name == f"tfjs-{r.engine}-{r.backend}" and r.lane == "browser" for r in matrix)


@pytest.mark.unit
def test_targets_take_short_names_commas_and_a_former_runtime_name():
    parity = load_config(None, {"parity": {"targets": ["chromium-webgl, webkit-wasm", "tfjs-firefox-wasm"]}}).parity
    assert parity.targets == ["tfjs-chromium-webgl", "tfjs-webkit-wasm", "tfjs-firefox-wasm"]
    assert load_config(None, {"parity": {"targets": "all"}}).parity.targets == ["all"]
    # Reports and scripts of earlier versions called today's browser runtime tfjs-browser-wasm.
    assert load_config(None, {"parity": {"runtimes": ["tfjs-browser-wasm"]}}).parity.runtimes == ["tfjs-chromium-wasm"]
    with pytest.raises(InputError, match=r"^--targets: unknown target safari \(known: default, all, chromium-wasm"):
        load_config(None, {"parity": {"targets": ["safari"]}})


@pytest.mark.unit
def test_the_plan_adds_chosen_targets_and_r_narrows_them_down():
    from exporters.base import Artifact, Format, TensorSpec, Variant
    from toolkit.gate.parity import plan, unverified

    image, classes = TensorSpec([28, 28, 1], "float32"), TensorSpec([10], "float32")
    tfjs = Artifact("j", Format.TFJS, Variant.FLOAT32, "float", "artifacts/j", "model.json", image, classes)

    def planned(**parity) -> set[str]:
        evaluations, skipped = plan([tfjs], load_config(None, {"parity": parity}).parity)
        return {runtime.name for _, runtime in evaluations} | {skip.runtime for skip in skipped}

    assert planned() == {"tfjs-node-wasm", "tfjs-chromium-wasm"}
    assert planned(targets=["all"]) == {name for name, r in RUNTIMES.items() if tfjs.format in r.formats}
    assert planned(targets=["webkit-webgl"]) == {"tfjs-node-wasm", "tfjs-chromium-wasm", "tfjs-webkit-webgl"}
    assert planned(targets=["all"], runtimes=["tfjs-firefox-wasm"]) == {"tfjs-firefox-wasm"}
    # -r may name a target by itself; a TF.js artifact that no runtime of the plan could run is not verified.
    assert planned(runtimes=["tfjs-chromium-webgpu"]) == {"tfjs-chromium-webgpu"}
    assert unverified([tfjs], [], load_config(None, {"parity": {"targets": ["chromium-webgl"]}}).parity) == ["j"]


def test_a_chosen_browser_that_is_not_installed_is_not_verified(tiny_run_copy: Path, monkeypatch):
    monkeypatch.setattr(tfjs_browser, "firefox_executable", lambda: None)
    args = ["validate", str(tiny_run_copy), "--targets", "firefox-wasm", "-r", "tfjs-firefox-wasm"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    report = json.loads((tiny_run_copy / "report.json").read_text())
    mine = [e for e in report["artifacts"] if e["runtime"] == "tfjs-firefox-wasm"]
    assert mine and all(e["verdict"] == "inconclusive" and not e["passed"] for e in mine)
    assert all("Firefox not found" in e["error"] and (e["engine"], e["backend"]) == ("firefox", "wasm") for e in mine)
    assert report["verdict"] == "inconclusive" and not report["skipped"]
    assert "????" in result.output and "tfjs-firefox-wasm" in result.output


@pytest.fixture(scope="module")
def tiny_web_run(tmp_path_factory):
    skip_unless(target_unavailable(TARGETS[0]))
    return build_tiny_run(tmp_path_factory.getbasetemp())[0]


def outputs(run: Path, target: Target, images: np.ndarray) -> tuple[np.ndarray, dict]:
    skip_unless(target_unavailable(target))
    directory = run / "artifacts" / "tfjs-float32"
    predictor = tfjs_browser._load(target, directory, read_contract(directory))
    return predictor.predict(images), predictor.last_run


@pytest.mark.browser
def test_chromium_runs_every_backend_and_each_agrees_with_wasm(tiny_web_run):
    images = sample_images(8)
    wasm, _ = outputs(tiny_web_run, Target("chromium", "wasm"), images)
    for backend, bound in (("webgl", 1e-5), ("webgl-f16", 5e-3), ("webgpu", 1e-5)):
        probabilities, page = outputs(tiny_web_run, Target("chromium", backend), images)
        assert page["backend"] == backend.removesuffix("-f16") and page["browser"].startswith("Chromium ")
        assert np.abs(probabilities - wasm).max() <= bound, backend
        assert (probabilities.argmax(1) == wasm.argmax(1)).all(), backend


@pytest.mark.browser
@pytest.mark.parametrize("engine", ["firefox", "webkit"])
def test_firefox_and_webkit_run_wasm_and_webgl_like_chromium(tiny_web_run, engine):
    images = sample_images(16)
    chromium, _ = outputs(tiny_web_run, Target("chromium", "wasm"), images)
    wasm, page = outputs(tiny_web_run, Target(engine, "wasm"), images)
    assert page["browser"].startswith({"firefox": "Firefox ", "webkit": "WebKitGTK "}[engine])
    assert np.abs(wasm - chromium).max() <= 1e-6  # the same wasm kernels, whatever the engine
    webgl, page = outputs(tiny_web_run, Target(engine, "webgl"), images)
    assert page["backend"] == "webgl" and np.abs(webgl - chromium).max() <= 1e-5


@pytest.mark.browser
def test_the_gate_on_chosen_targets_names_engine_backend_and_browser_versions(tiny_run_copy: Path):
    skip_unless(target_unavailable(Target("webkit", "wasm")))
    args = ["validate", str(tiny_run_copy), "--targets", "webkit-wasm", "-r", "tfjs-webkit-wasm"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tiny_run_copy / "report.json").read_text())
    mine = [e for e in report["artifacts"] if e["runtime"] == "tfjs-webkit-wasm"]
    assert mine and all(e["passed"] and (e["engine"], e["backend"]) == ("webkit", "wasm") for e in mine)
    assert report["environment"]["webkitgtk"] and report["environment"]["firefox"]
    assert "webkit · wasm" in (tiny_run_copy / "report.html").read_text()


@pytest.mark.browser
def test_the_first_node_where_a_backend_departs_from_wasm_is_named(tiny_web_run):
    skip_unless(target_unavailable(Target("chromium", "webgl")))
    directory = tiny_web_run / "artifacts" / "tfjs-float32"
    artifact, images = read_contract(directory), sample_images(4)
    # float16 textures store every activation in half precision: the first convolution already departs.
    departure = tfjs_browser.first_departure(Target("chromium", "webgl-f16"), directory, artifact, images)
    assert departure is not None and "Conv2D" in departure.split(": ")[0], departure
    assert departure.startswith("first departs from tfjs-chromium-wasm at node ")
    # WebGL in float32 agrees with wasm to float32 rounding at every node.
    assert tfjs_browser.first_departure(Target("chromium", "webgl"), directory, artifact, images) is None


@pytest.mark.unit
def test_benchmark_takes_every_browser_target_and_caps_webgpu():
    from toolkit.bench.benchmark import WEBGPU_OPTIONS, browser_options

    asked = {"runs": 1000, "warmup": 100, "batch": 100, "batch_repeats": 20}
    same = {"runs": 1000, "warmup": 100, "batch": 100, "batchRepeats": 20}  # bench.js's names
    assert browser_options("tfjs-firefox-wasm", asked) == same
    capped = browser_options("tfjs-chromium-webgpu", asked)
    assert capped == {"runs": 10, "warmup": 2, "batch": 8, "batchRepeats": 2} and WEBGPU_OPTIONS["runs"] == 10
    assert browser_options("tfjs-chromium-webgpu", {**asked, "runs": 3})["runs"] == 3  # a smaller ask stays


@pytest.mark.browser
def test_benchmark_measures_each_browser_target_in_rounds_with_first_prediction_and_page_weight(tiny_web_run, tmp_path):
    import shutil

    from toolkit.bench.benchmark import benchmark, render_table

    wanted = ["tfjs-chromium-webgl-f16", "tfjs-chromium-webgpu", "tfjs-firefox-wasm", "tfjs-webkit-wasm"]
    for name in wanted:
        skip_unless(RUNTIMES[name].unavailable())
    run = Path(shutil.copytree(tiny_web_run, tmp_path / "run"))
    lines = []
    result = benchmark(run, runs=20, warmup=2, rounds=1, batch=4, runtimes=wanted, progress=lines.append)
    rows = {(r["artifact"], r["runtime"]): r for r in result["results"]}
    assert {runtime for _, runtime in rows} == set(wanted) and len(lines) == len(rows)
    for key, row in rows.items():
        assert row["error"] is None, (key, row["error"])
        assert row["load_ms"] > 0 and row["first_ms"] > 0 and 0 < row["p50_us"] <= row["p99_us"], key
        assert row["page_kb"] > 100, key  # TF.js itself, at least, went to the page
    assert "WebGPU" in result["method"] and "tfjs-webkit-wasm" in render_table(result)
    report = json.loads((run / "benchmark.json").read_text())
    assert report["results"] == json.loads(json.dumps(result["results"]))


@pytest.mark.browser
def test_benchmark_measures_litertjs_on_the_pixels_files_beside_tfjs(tiny_run, tmp_path):
    """`edgekit benchmark -r litertjs-chromium-wasm -r tfjs-chromium-wasm`: LiteRT.js on the pixels .tflite files
    (and on no other file), TF.js beside it, each with load, first prediction, p50/p99 and page weight."""
    import shutil

    from toolkit.bench.benchmark import benchmark, plan, render_table
    from toolkit.run import Run

    skip_unless(RUNTIMES["litertjs-chromium-wasm"].unavailable())
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    assert "litertjs-chromium-wasm" not in {s.runtime for s in plan(Run.open(run))[0]}  # only when asked for
    wanted = ["litertjs-chromium-wasm", "tfjs-chromium-wasm"]
    result = benchmark(run, runs=20, warmup=2, rounds=1, batch=4, runtimes=wanted)
    rows = {(r["artifact"], r["runtime"]): r for r in result["results"]}
    litertjs = {name for name, runtime in rows if runtime == "litertjs-chromium-wasm"}
    assert litertjs == {"tflite-pixels-float32", "tflite-pixels-uint8"}
    assert any(runtime == "tfjs-chromium-wasm" for _, runtime in rows)
    for key, row in rows.items():
        assert row["error"] is None, (key, row["error"])
        assert row["load_ms"] > 0 and row["first_ms"] > 0 and 0 < row["p50_us"] <= row["p99_us"], key
        assert row["throughput_ips"] > 0, key
    for name in litertjs:  # LiteRT.js's wasm (megabytes) and the model went to the page
        row = rows[(name, "litertjs-chromium-wasm")]
        assert row["page_kb"] > 1000 and row["page_kb"] > row["gzip_bytes"] / 1024, name
    assert "LiteRT.js" in result["method"] and "litertjs-chromium-wasm" in render_table(result)
