"""report.html and the evidence behind it: per-class figures, kept predictions, and the page opened in Chromium."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import ARTIFACTS

from toolkit.errors import InputError
from toolkit.gate.evidence import Predictions, confusion, per_class, per_class_report
from toolkit.report.document import keep_previous
from toolkit.report.html import (
    BROWSER_LITERTJS,
    BROWSER_TFJS,
    INTEGER_ONLY,
    INTERPRETER,
    NOT_IN_MEDIAPIPE,
    TASKS,
    recommendations,
)
from toolkit.run import Run


@pytest.mark.unit
def test_per_class_figures_match_a_hand_count():
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 1])
    matrix = confusion(labels, predicted, 3)
    assert matrix.tolist() == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    figures = per_class(matrix)
    assert figures["precision"] == [100.0, 50.0, 0.0]  # class 2 is never predicted: 0, not a division error
    assert figures["recall"] == [pytest.approx(66.667), 100.0, 0.0]
    assert figures["f1"][1] == pytest.approx(66.667)
    assert figures["support"] == [3, 2, 1]


@pytest.mark.unit
def test_predictions_round_trip_and_per_class_deltas(tmp_path: Path):
    labels = np.array([0, 1, 2, 1])
    reference = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    artifact = np.eye(3, dtype=np.float32)[[0, 1, 1, 1]] * 0.9 + 0.05
    kept = Predictions.from_probabilities(labels, {"float": reference}, {("a", "litert"): artifact})
    kept.save(Run(tmp_path))
    loaded = Predictions.load(Run(tmp_path))
    assert loaded.predicted("a", "litert").tolist() == [0, 1, 1, 1]
    assert loaded.entries[("a", "litert")]["top_p"][0, 0] == pytest.approx(0.95, abs=1e-3)
    section = per_class_report(loaded, {"a": "float"}, 3)
    assert section["evaluations"]["a|litert"]["recall"][2] == 0.0
    assert section["evaluations"]["a|litert"]["f1_delta"][2] == -100.0


@pytest.mark.unit
def test_a_foreign_predictions_file_is_refused(tmp_path: Path):
    np.savez(tmp_path / "predictions.npz", labels=np.zeros(3), **{"a|litert|top_i": np.zeros(2)})
    with pytest.raises(InputError, match="not the predictions"):
        Predictions.load(Run(tmp_path))


@pytest.mark.unit
def test_partial_gate_keeps_the_other_runtimes_marked_as_previous_for_the_same_files_only():
    def entry(name, runtime, passed=True, digest="d"):
        return {"name": name, "runtime": runtime, "passed": passed, "digest": digest}

    previous = {
        "created": "2026-01-01T00:00:00+00:00",
        "artifacts": [entry("a", "litert"), entry("b", "tfjs-node-wasm", passed=False), entry("c", "tfjs-node-wasm")],
        "skipped": [],
    }
    report = {"artifacts": [entry("a", "litert")], "skipped": [], "breaches": [], "passed": True}
    # c's files changed since (another digest now): its old result is about other files and does not carry over
    assert keep_previous(report, previous, {"litert"}, {"a": "d", "b": "d", "c": "new"}) == [("b", "tfjs-node-wasm")]
    assert [(e["name"], e.get("from_previous_run")) for e in report["artifacts"]] == [
        ("a", None),
        ("b", "2026-01-01T00:00:00+00:00"),
    ]
    assert report["passed"] is False and "previous run" in report["breaches"][0]


@pytest.mark.unit
def test_recommendation_is_the_smallest_artifact_that_passed_everywhere():
    def entry(name, fmt, runtime, passed):
        return {"name": name, "format": fmt, "runtime": runtime, "passed": passed}

    report = {
        "artifacts": [
            entry("t-small", "tflite", "litert", False),
            entry("t-mid", "tflite", "litert", True),
            entry("t-mid2", "tflite", "litert", True),
            entry("t-big", "tflite", "litert", True),
            entry("j-small", "tfjs", "tfjs-node-wasm", True),
            entry("j-small", "tfjs", "tfjs-chromium-wasm", False),
        ]
    }
    sizes = {"t-small": 1, "t-mid": 5, "t-mid2": 5, "t-big": 9, "j-small": 1}
    latency = {"t-mid": 90.0, "t-mid2": 40.0, "t-big": 1.0}
    rows = {r["target"]: r for r in recommendations(report, sizes, latency, traits={"t-big": {"fully_integer"}})}
    assert set(rows) == {INTERPRETER, INTEGER_ONLY, BROWSER_TFJS}  # no pixels file, nothing run in MediaPipe
    assert rows[INTERPRETER]["artifact"] == "t-mid2"  # same size: the faster one; never t-big for its 1 µs
    assert rows[INTEGER_ONLY]["artifact"] == "t-big"  # the only full-integer file
    assert rows[BROWSER_TFJS]["artifact"] is None  # failed in one of its runtimes
    assert rows[INTERPRETER]["note"] is None
    rows = {r["target"]: r for r in recommendations(report, sizes, latency, int4={"t-mid2"})}
    assert rows[INTERPRETER]["note"].startswith("int4 weights: XNNPACK does not take")


@pytest.mark.unit
def test_recommendation_names_the_files_for_mediapipe_tasks_and_litertjs():
    def entry(name, fmt, runtime, passed=True):
        return {"name": name, "format": fmt, "runtime": runtime, "passed": passed}

    report = {"artifacts": [entry("t", "tflite", "litert"), entry("p-f32", "tflite", "litert")]}
    report["artifacts"] += [entry("p-u8", "tflite", "litert"), entry("j", "tfjs", "tfjs-chromium-wasm")]
    sizes = {"t": 2, "p-f32": 8, "p-u8": 3, "j": 1}
    traits = {"p-f32": {"pixels"}, "p-u8": {"pixels", "fully_integer"}}
    rows = {r["target"]: r for r in recommendations(report, sizes, {}, traits=traits)}
    # The interpreter's file is not a pixels file; MediaPipe not run: the smallest pixels file, and the row says so.
    assert rows[INTERPRETER]["artifact"] == "t" and rows[INTEGER_ONLY]["artifact"] == "p-u8"
    assert rows[TASKS]["artifact"] == "p-u8" and rows[TASKS]["note"] == NOT_IN_MEDIAPIPE
    assert BROWSER_LITERTJS not in rows
    # Run in MediaPipe Tasks and LiteRT.js: only what each ran and passed.
    report["artifacts"] += [entry("p-u8", "tflite", "mediapipe", False), entry("p-f32", "tflite", "mediapipe")]
    report["artifacts"] += [entry("p-f32", "tflite", "litertjs-chromium-wasm")]
    rows = {r["target"]: r for r in recommendations(report, sizes, {}, traits=traits)}
    assert rows[TASKS] == {"target": TASKS, "artifact": "p-f32", "size": 8, "latency_us": None, "note": None}
    assert rows[BROWSER_LITERTJS]["artifact"] == "p-f32" and rows[BROWSER_TFJS]["artifact"] == "j"
    assert rows[INTEGER_ONLY]["artifact"] is None  # p-u8 failed in MediaPipe


def test_validate_prints_progress_and_a_verdict_without_native_logs(tiny_run_copy: Path):
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", "validate", str(tiny_run_copy), "-r", "litert"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[0].startswith("parity gate: ") and "litert" in lines[0]
    assert any(line.startswith("[1/") for line in lines)
    assert lines[-1] == "PASSED"
    assert "XNNPACK" not in done.stdout + done.stderr and "INFO:" not in done.stderr
    # Restricted to litert, the report still holds the other runtimes' results, marked as from the previous run.
    report = __import__("json").loads((tiny_run_copy / "report.json").read_text())
    assert {e["runtime"] for e in report["artifacts"] if not e.get("from_previous_run")} == {"litert"}
    assert any(e.get("from_previous_run") for e in report["artifacts"])


@pytest.mark.browser
def test_report_page_opens_offline_in_chromium(tiny_run: Path):
    from toolkit.runtimes.tfjs_browser import launch_chromium, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    page_file = tiny_run / "report.html"
    html = page_file.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html
    external, errors = [], []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(request_route):
                if not request_route.request.url.startswith(("file://", "data:")):
                    external.append(request_route.request.url)
                    return request_route.abort()
                return request_route.continue_()

            page.route("**/*", route)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            # Every inline image decoded: a broken data URI would have naturalWidth 0.
            broken = page.evaluate("() => [...document.images].filter(i => !i.complete || !i.naturalWidth).length")
            headings = page.locator("h2").all_inner_texts()
            page.screenshot(path=str(ARTIFACTS / "report-html.png"), full_page=True)
        finally:
            browser.close()
    assert external == [] and errors == [] and broken == 0
    for heading in ("Recommendation", "Artifacts", "Confusion matrices", "Per-class", "Training", "Provenance"):
        assert any(h.startswith(heading) for h in headings), headings


@pytest.mark.unit
def test_kept_references_are_used_only_for_the_same_models_and_test_set(tmp_path: Path):
    from toolkit.gate import kept as references
    from toolkit.run import Run

    with Run.create(tmp_path / "run") as run:
        pass
    run.manifest["data"] = {"x_test_sha256": "abc"}
    (run.path / "models").mkdir()
    run.model_path("float").write_bytes(b"model one")
    probabilities = np.full((4, 10), 0.1, dtype=np.float32)
    references.store(run, {"float": probabilities})
    assert np.array_equal(references.load(run, ["float"], 4)["float"], probabilities)
    assert references.load(run, ["float"], 5) is None  # other images
    assert references.load(run, ["float", "qat"], 4) is None  # a model it never saw
    run.model_path("float").write_bytes(b"model two")  # retrained or tampered with
    assert references.load(run, ["float"], 4) is None


def test_benchmark_measures_litert_in_rounds_and_feeds_the_report(tiny_run_copy: Path):
    import json

    from toolkit.bench.benchmark import benchmark, render_table
    from toolkit.report.html import rewrite_html

    lines = []
    result = benchmark(tiny_run_copy, runs=30, warmup=5, rounds=2, batch=8, runtimes=["litert"], progress=lines.append)
    assert json.loads((tiny_run_copy / "benchmark.json").read_text()) == json.loads(json.dumps(result))
    rows = {(r["artifact"], r["setting"]): r for r in result["results"]}
    assert len(lines) == 2 * len(rows) and lines[-1].startswith(f"[{len(lines)}/{len(lines)}]")
    assert {r["runtime"] for r in rows.values()} == {"litert"}
    float32 = rows[("tflite-float32", "1 thread, XNNPACK")]
    assert float32["rounds"] == 2 and float32["p50_vs_float32"] == 1.0 and float32["error"] is None
    assert float32["p50_us_min"] <= float32["p50_us"] <= float32["p50_us_max"] <= float32["p99_us"] * 2
    assert 0 < float32["peak_rss_mb"] < 2000 and float32["gzip_bytes"] < float32["size_bytes"]
    assert "DELEGATE" in float32["ops"] and "DELEGATE" not in rows[("tflite-float32", "1 thread, no XNNPACK")]["ops"]
    assert "tflite-int8-qat" in render_table(result)
    html = rewrite_html(tiny_run_copy).read_text()
    assert "Not benchmarked yet" not in html and "1 thread, no XNNPACK" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [(["report", "{empty}"], "no report.json"), (["benchmark", "{run}", "--runs", "0"], "at least 1")],
)
def test_report_and_benchmark_bad_input_is_one_line_and_exit_2(tmp_path: Path, tiny_run_copy: Path, args, message):
    from typer.testing import CliRunner

    from toolkit.cli import app
    from toolkit.run import Run

    with Run.create(tmp_path / "empty"):
        pass
    args = [a.format(empty=tmp_path / "empty", run=tiny_run_copy) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_the_gate_hands_its_test_images_to_the_report(tiny_run_copy: Path, monkeypatch):
    """report.html draws the gallery from the images the gate already holds, not from a second load of the data."""
    import toolkit.report.html
    from toolkit.data.run_data import load_run_data
    from toolkit.report.html import write_html

    run = Run.open(tiny_run_copy)
    images = load_run_data(run).x_test
    predictions = Predictions.load(run)

    def no_reload(_run):
        raise AssertionError("the data set was loaded again")

    monkeypatch.setattr(toolkit.report.html, "load_run_data", no_reload)
    html = write_html(run, run.report(), predictions, images).read_text()
    assert html.count("data:image/png") > 2  # figures and the gallery's digits


def test_the_gate_draws_the_training_curves_beside_the_evaluations(tiny_run_copy: Path, monkeypatch):
    """The curves depend on the manifest only: drawn in a thread of their own while the runtimes work."""
    import threading

    import toolkit.flow.validate
    from toolkit.config import Config

    drawn = []
    draw = toolkit.flow.validate.curves

    def recorded(steps):
        drawn.append(threading.current_thread().name)
        return draw(steps)

    monkeypatch.setattr(toolkit.flow.validate, "curves", recorded)
    config = Config()
    toolkit.flow.validate.validate(
        tiny_run_copy, config.model_copy(update={"parity": config.parity.model_copy(update={"runtimes": ["litert"]})})
    )
    assert len(drawn) == 1 and drawn[0].startswith("edgekit-report")
    assert "training and QAT curves" in (tiny_run_copy / "report.html").read_text()
