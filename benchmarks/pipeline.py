"""Benchmark of the main job: `edgekit pipeline` with its defaults, then sizes, the gate's time and TFLite latency.

    uv run python benchmarks/pipeline.py                 # runs the default pipeline first (~6 min here)
    uv run python benchmarks/pipeline.py --run runs/X    # measures an existing run directory

Prints one table and writes benchmark.json into the run directory. Latencies are medians of many single-image
invokes on one thread, measured in the same process one after the other, so ratios between artifacts are fair
even on a noisy shared machine; absolute numbers vary from machine to machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import toolkit  # noqa: F401
from exporters.base import Format
from toolkit.flow import default_run_dir, gate_images, load_run_data
from toolkit.run import Run
from toolkit.runtimes.base import to_model_input
from toolkit.runtimes.litert import LiteRTPredictor


def single_image_latency_us(run: Run, name: str, image: np.ndarray, repeats: int) -> float:
    artifact = next(a for a in run.artifacts() if a.name == name)
    predictor = LiteRTPredictor(run.path / artifact.path / artifact.main_file, artifact, num_threads=1)
    model_input = to_model_input(image[np.newaxis], artifact.input)
    for _ in range(50):  # warm-up: first invokes allocate and pack weights
        predictor.run(model_input)
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        predictor.run(model_input)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="measure this run instead of running the pipeline")
    parser.add_argument("--repeats", type=int, default=2000, help="single-image invokes per artifact")
    args = parser.parse_args()

    pipeline_seconds = None
    run_dir = args.run
    if run_dir is None:
        run_dir = default_run_dir()
        start = time.perf_counter()
        status = subprocess.call([sys.executable, "-m", "toolkit", "pipeline", "--out", str(run_dir)])
        pipeline_seconds = time.perf_counter() - start
        if status != 0:
            print(f"pipeline exited with {status}")
            return status

    # The gate alone (the pipeline's total includes training): first in the Python-hosted runtimes only, then in
    # all of them (Node and Chromium start a process or a browser per TF.js artifact).
    validate = [sys.executable, "-m", "toolkit", "validate", str(run_dir)]
    subprocess.call(validate + ["-r", "litert", "-r", "tfjs-python", "-r", "tensorflow"], stdout=subprocess.DEVNULL)
    python_gate_seconds = Run.open(run_dir).report()["gate_seconds"]
    start = time.perf_counter()
    status = subprocess.call(validate, stdout=subprocess.DEVNULL)
    gate_process_seconds = time.perf_counter() - start

    run = Run.open(run_dir)
    report = run.report()
    steps = run.manifest["steps"]
    image = gate_images(load_run_data(run))[0]
    by_name = {(a["name"], a["runtime"]): a for a in report["artifacts"]}
    float32_size = by_name[("tflite-float32", "litert")]["size_bytes"]
    float_accuracy = report["reference_accuracy"]["float"]

    rows = []
    for artifact in run.artifacts():
        if artifact.format is not Format.TFLITE:
            continue
        entry = by_name[(artifact.name, "litert")]
        rows.append(
            {
                "name": artifact.name,
                "accuracy": entry["accuracy"],
                "delta_vs_float": round(entry["accuracy"] - float_accuracy, 2),
                "size_kb": round(artifact.size_bytes / 1024, 1),
                "size_vs_float32": round(artifact.size_bytes / float32_size, 3),
                "latency_us_1thread": round(single_image_latency_us(run, artifact.name, image, args.repeats), 1),
            }
        )
    result = {
        "run": str(run.path),
        "pipeline_seconds": None if pipeline_seconds is None else round(pipeline_seconds, 1),
        "steps_seconds": {k: v.get("seconds") for k, v in steps.items()},
        "float_test_accuracy": float_accuracy,
        "qat_keras_test_accuracy": report["reference_accuracy"].get("qat"),
        "gate_passed": report["passed"] and status == 0,
        "gate_seconds": report["gate_seconds"],
        "gate_seconds_python_runtimes": python_gate_seconds,
        "gate_process_seconds": round(gate_process_seconds, 1),
        "evaluations": len(report["artifacts"]),
        "tflite": rows,
        "tfjs": [
            {
                "name": a["name"],
                "runtime": a["runtime"],
                "accuracy": a["accuracy"],
                "agreement": a["agreement"],
                "size_kb": round(a["size_bytes"] / 1024, 1),
            }
            for a in report["artifacts"]
            if a["format"] == "tfjs"
        ],
    }
    (run.path / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n")

    print(f"\nrun: {run.path}")
    if pipeline_seconds is not None:
        print(
            f"edgekit pipeline (defaults), wall clock: {pipeline_seconds:.0f} s "
            f"(steps: {', '.join(f'{k} {v}s' for k, v in result['steps_seconds'].items())})"
        )
    print(f"float CNN test accuracy: {float_accuracy:.2f}%   QAT Keras: {result['qat_keras_test_accuracy']}%")
    print(
        f"gate: {'PASSED' if result['gate_passed'] else 'FAILED'}, {len(report['artifacts'])} evaluations on "
        f"10k images in {report['gate_seconds']} s ({gate_process_seconds:.0f} s with process start-up); "
        f"litert + tfjs-python + tensorflow alone: {python_gate_seconds} s"
    )
    print(f"\n{'artifact':<18}{'accuracy %':>11}{'vs float':>10}{'size KB':>10}{'/ float32':>10}{'1-thread us':>13}")
    for r in rows:
        print(
            f"{r['name']:<18}{r['accuracy']:>11.2f}{r['delta_vs_float']:>+10.2f}{r['size_kb']:>10.1f}"
            f"{r['size_vs_float32']:>10.3f}{r['latency_us_1thread']:>13.1f}"
        )
    for r in result["tfjs"]:
        print(
            f"{r['name']:<18}{r['accuracy']:>11.2f}  ({r['runtime']}, agreement {r['agreement']}%, {r['size_kb']} KB)"
        )
    return 0 if result["gate_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
