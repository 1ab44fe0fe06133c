"""Benchmark the TF.js deployment of a run: in-browser latency, page load, Node/browser parity, gzip sizes.

    uv run python benchmarks/web.py RUN_DIR [--loads 5] [--repeats 200] [--compare-site DIR] [--page-only]

RUN_DIR is a run directory with models/<source>.h5 and artifacts/tfjs-*/ (e.g. from `edgekit pipeline`).
--compare-site DIR times another copy of web_demo/site (e.g. `git archive REV web_demo/site`) in the same run,
page loads interleaved with this one's (each site loaded once unmeasured first, the order alternating per round),
so that the ratio of each pair holds on a busy machine; the load average and the CPU's SIMD flags are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
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


# Marks the page sets (main.js) on the way to its first prediction, and the browser's own DOMContentLoaded.
STAGES = ["domContentLoaded", "edgekit:backend-ready", "edgekit:model-loaded", "edgekit:warmed-up"]


# Put in the page before its own scripts: as soon as the demo is ready it draws the digit and notes when the
# prediction came back (awaited, should it be asynchronous), so Playwright's round trips do not count.
FIRST_PREDICTION = """(pixels) => {
    let demo;
    window.edgekitFirstPrediction = new Promise((resolve, reject) => {
        Object.defineProperty(window, 'edgekitDemo', {
            configurable: true,
            get: () => demo,
            set: (value) => {
                demo = value;
                demo.ready.then(() => demo.drawImage(pixels, 28, 28)).then(() => resolve(performance.now()), reject);
            },
        });
    });
}"""


def first_prediction(browser, url: str, digit: np.ndarray) -> dict[str, float]:
    """One fresh page (no cache): ms from navigation to the first prediction of a drawn digit, and to each stage."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(f"({FIRST_PREDICTION})({json.dumps(digit.ravel().tolist())})")
    # performance.now() counts from the start of navigation: load, TF.js + wasm start, model fetch and its warm-up
    # call, then one digit drawn into the pad, preprocessed and classified.
    page.goto(url, wait_until="commit")
    timing = page.evaluate(
        """async () => {
            const first = await window.edgekitFirstPrediction;
            const marks = Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]));
            marks.domContentLoaded = performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd;
            return { first, ...marks, backend: document.getElementById('backend').textContent };
        }"""
    )
    context.close()
    return timing


def page_timings(
    run_dir: Path, digit: np.ndarray, loads: int, repeats: int, compare_site: Path | None = None
) -> dict[str, float]:
    """Median page load to first prediction (fresh page each time) and median single-image inference (wasm)."""
    from unittest import mock

    from playwright.sync_api import sync_playwright

    from toolkit.serve import demo as serve
    from toolkit.web import assets as web_assets

    sites = {"this": serve.make_server(run_dir, port=0)}
    if compare_site is not None:  # the same server, with the other site mounted at the root
        with mock.patch.object(web_assets.WebAssets, "site", property(lambda _: compare_site.resolve())):
            sites["compared"] = serve.make_server(run_dir, port=0)
    loaded: dict[str, list[dict]] = {name: [] for name in sites}
    with contextlib.ExitStack() as stack, sync_playwright() as playwright:
        urls = {name: stack.enter_context(serve.running(server)) for name, server in sites.items()}
        browser = tfjs_browser.launch_chromium(playwright)
        try:
            for url in urls.values():  # unmeasured: the browser's own first start (code caches, processes)
                first_prediction(browser, url, digit)
            for round_ in range(loads):
                # interleaved: both sites see the same load; alternating, so that neither always goes first
                for name, url in sorted(urls.items(), reverse=bool(round_ % 2)):
                    loaded[name].append(first_prediction(browser, url, digit))
            page = browser.new_page()
            page.goto(urls["this"])
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
        finally:
            browser.close()
    result = {
        "inference_ms": statistics.median(timings["model"]),
        "inference_p90_ms": float(np.percentile(timings["model"], 90)),
        "draw_to_result_ms": statistics.median(timings["whole"]),
        "backends": ", ".join(sorted({t["backend"] for runs in loaded.values() for t in runs})),
    }
    for name, runs in loaded.items():
        result[f"{name}_first_ms"] = [round(t["first"]) for t in runs]
        result[f"{name}_stages"] = {
            stage: statistics.median(t[stage] for t in runs) for stage in STAGES if all(stage in t for t in runs)
        }
    return result


def print_page_timings(timing: dict, loads: int) -> None:
    print(
        f"In-browser single-image prediction ({timing['backends']}): median {timing['inference_ms']:.2f} ms, "
        f"p90 {timing['inference_p90_ms']:.2f} ms; with preprocessing of the 280x280 pad and the DOM update: "
        f"median {timing['draw_to_result_ms']:.2f} ms"
    )
    for name in ("this", "compared"):
        if f"{name}_first_ms" not in timing:
            continue
        runs = timing[f"{name}_first_ms"]
        stages = ", ".join(
            f"{stage.removeprefix('edgekit:')} {ms:.0f}" for stage, ms in timing[f"{name}_stages"].items()
        )
        print(
            f"Page load to first prediction ({name} site): median {statistics.median(runs):.0f} ms over {loads} "
            f"fresh loads (min {min(runs)}, max {max(runs)}); median ms at: {stages or 'no marks'}"
        )
    if "compared_first_ms" in timing:
        ratio = statistics.median(timing["this_first_ms"]) / statistics.median(timing["compared_first_ms"])
        pairs = [a / b for a, b in zip(timing["this_first_ms"], timing["compared_first_ms"], strict=True)]
        faster = sum(r < 1 for r in pairs)
        print(
            f"this / compared site: medians {ratio:.2f}; per interleaved pair median {statistics.median(pairs):.2f} "
            f"(min {min(pairs):.2f}, max {max(pairs):.2f}), this faster in {faster} of {len(pairs)} pairs"
        )
    print(f"load average (1, 5, 15 min) at the end: {machine_load()}; CPU: {cpu_flags()}")


def machine_load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_flags() -> str:
    """The SIMD flags that speed matters on (ENVIRONMENT.md): avx512_vnni, avx2."""
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return ", ".join(f for f in ("avx512_vnni", "avx2") if f in flags) or "neither avx2 nor avx512_vnni"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--loads", type=int, default=5, help="fresh page loads timed to the first prediction")
    parser.add_argument("--repeats", type=int, default=200, help="single-image predictions timed in the page")
    parser.add_argument("--compare-site", type=Path, help="another web_demo/site to time, interleaved with this one")
    parser.add_argument("--page-only", action="store_true", help="only the page timings, not Node/browser parity")
    args = parser.parse_args()
    if args.page_only:
        from toolkit.data.datasets import load_data

        digit = load_data().x_test[0]
        print_page_timings(page_timings(args.run_dir, digit, args.loads, args.repeats, args.compare_site), args.loads)
        return 0

    from toolkit.data.run_data import load_run_data
    from toolkit.modeling.keras_files import load_keras_model
    from toolkit.run import Run
    from toolkit.runtimes.keras import KerasPredictor

    run = Run.open(args.run_dir)
    data = load_run_data(run)
    images, labels = data.x_test, data.y_test
    artifacts = run.artifacts(Format.TFJS)
    if not artifacts:
        raise EdgekitError(f"{args.run_dir} has no TF.js artifact")
    references = {
        s: KerasPredictor(load_keras_model(run.model_path(s)), run.classifier).predict(images)
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
        timing = page_timings(run.path, data.x_test[0], args.loads, args.repeats, args.compare_site)
        print_page_timings(timing, args.loads)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgekitError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
