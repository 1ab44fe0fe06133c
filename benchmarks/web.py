"""Benchmark the TF.js deployment of a run: in-browser latency, page load, Node/browser parity, gzip sizes.

    uv run python benchmarks/web.py RUN_DIR [--loads 5] [--repeats 200]

RUN_DIR is a run directory with models/<source>.h5 and artifacts/tfjs-*/ (e.g. from `edgekit pipeline`).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
from pathlib import Path

import numpy as np

import toolkit  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from exporters.base import Format
from toolkit.errors import EdgekitError
from toolkit.runtimes import tfjs_browser, tfjs_node


def gzip_size(directory: Path) -> int:
    """Bytes a browser downloads with gzip on: model.json and the weight shards, each compressed at level 9."""
    return sum(
        len(gzip.compress(p.read_bytes(), 9))
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != "contract.json"
    )


def page_timings(run_dir: Path, digit: np.ndarray, loads: int, repeats: int) -> dict[str, float]:
    """Median page load to first prediction (fresh page each time) and median single-image inference (wasm)."""
    from playwright.sync_api import sync_playwright

    from toolkit.serve import make_server, running

    first_prediction, inference, draw_to_result, backends = [], [], [], set()
    with running(make_server(run_dir, port=0)) as url, sync_playwright() as playwright:
        browser = tfjs_browser.launch_chromium(playwright)
        try:
            for _ in range(loads):
                context = browser.new_context()
                page = context.new_page()
                page.goto(url)
                # performance.now() counts from the start of navigation: load, TF.js + wasm start, model fetch and
                # its warm-up call, then one digit drawn into the pad, preprocessed and classified.
                first_prediction.append(
                    page.evaluate(
                        """async (pixels) => {
                    await window.edgekitDemo.ready;
                    window.edgekitDemo.drawImage(pixels, 28, 28);
                    return performance.now();
                }""",
                        digit.ravel().tolist(),
                    )
                )
                backends.add(page.locator("#backend").inner_text())
                context.close()
            page = browser.new_page()
            page.goto(url)
            page.evaluate("() => window.edgekitDemo.ready")
            page.evaluate("(pixels) => window.edgekitDemo.drawImage(pixels, 28, 28)", digit.ravel().tolist())
            timings = page.evaluate(
                """(repeats) => {
                const demo = window.edgekitDemo;
                const input = Float32Array.from(demo.state.last.input);
                const model = [], whole = [];
                for (let i = 0; i < repeats; i++) model.push(demo.state.model.classify(input).milliseconds);
                for (let i = 0; i < repeats; i++) {
                    const start = performance.now();
                    demo.classify();
                    whole.push(performance.now() - start);
                }
                return {model, whole};
            }""",
                repeats,
            )
            inference, draw_to_result = timings["model"], timings["whole"]
        finally:
            browser.close()
    return {
        "first_prediction_ms": statistics.median(first_prediction),
        "inference_ms": statistics.median(inference),
        "inference_p90_ms": float(np.percentile(inference, 90)),
        "draw_to_result_ms": statistics.median(draw_to_result),
        "backends": ", ".join(sorted(backends)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--loads", type=int, default=5, help="fresh page loads timed to the first prediction")
    parser.add_argument("--repeats", type=int, default=200, help="single-image predictions timed in the page")
    args = parser.parse_args()

    from toolkit.flow import gate_images, load_run_data
    from toolkit.keras_model import load_keras_model
    from toolkit.run import Run
    from toolkit.runtimes.keras import KerasPredictor

    run = Run.open(args.run_dir)
    data = load_run_data(run)
    images, labels = gate_images(data), data.y_test
    artifacts = run.artifacts(Format.TFJS)
    if not artifacts:
        raise EdgekitError(f"{args.run_dir} has no TF.js artifact")
    references = {
        s: KerasPredictor(load_keras_model(run.model_path(s)), run.output_kind).predict(images)
        for s in {a.source for a in artifacts}
    }
    for source, reference in references.items():
        print(
            f"Keras {source} model: accuracy {(reference.argmax(1) == labels).mean():.2%} on {len(labels)} test images"
        )

    runtimes = [r for r in (tfjs_node, tfjs_browser) if not r.unavailable()]
    for r in (tfjs_node, tfjs_browser):
        if r.unavailable():
            print(f"{r.NAME}: skipped ({r.unavailable()})")
    header = f"{'artifact':<16} {'size':>9} {'gzip':>9}"
    for r in runtimes:
        header += f" | {r.NAME + ' acc':>22} {'agree':>8} {'max|dp|':>8} {'time':>6}"
    print(header)
    for artifact in artifacts:
        directory = run.path / artifact.path
        row = f"{artifact.name:<16} {artifact.size_bytes / 1e3:>7.0f}kB {gzip_size(directory) / 1e3:>7.0f}kB"
        reference = references[artifact.source]
        for r in runtimes:
            predictor = r.load(directory, artifact)
            count = len(images)
            probabilities = predictor.predict(images[:count])
            agreement = (probabilities.argmax(1) == reference[:count].argmax(1)).mean()
            accuracy = (probabilities.argmax(1) == labels[:count]).mean()
            delta = np.abs(probabilities - reference[:count]).max()
            row += f" | {accuracy:>22.2%} {agreement:>8.2%} {delta:>8.1e} {predictor.last_run['seconds']:>5.1f}s"
        print(row, flush=True)

    if tfjs_browser in runtimes:
        timing = page_timings(run.path, data.x_test[0], args.loads, args.repeats)
        print(
            f"In-browser single-image prediction ({timing['backends']}): median {timing['inference_ms']:.2f} ms, "
            f"p90 {timing['inference_p90_ms']:.2f} ms; with preprocessing of the 280x280 pad and the DOM update: "
            f"median {timing['draw_to_result_ms']:.2f} ms"
        )
        print(
            f"Page load to first prediction: median {timing['first_prediction_ms']:.0f} ms "
            f"over {args.loads} fresh loads"
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgekitError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
