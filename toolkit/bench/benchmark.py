"""`edgekit benchmark`: latency, throughput and memory of every artifact in every runtime here, in interleaved rounds.

Each measurement runs the way LiteRT's benchmark_model does (load, first inference, warm-up, then timed runs of
one image, then batches) in a process of its own (LiteRT, Node) so its peak memory is the runtime's. Every round
measures every setting once, one after the other, so a burst of load on a shared machine hits all artifacts of a
round alike; each figure is the median over rounds, with the spread, and ratios to float32 are taken within a round.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from exporters.base import Artifact, Format
from toolkit.data.run_data import load_run_data
from toolkit.errors import InputError, first_line
from toolkit.pixels.tensors import to_model_input
from toolkit.report.environment import environment
from toolkit.report.html import gzip_size
from toolkit.run import Run, atomic_write_json, now

FIGURES = (
    "load_ms",
    "first_ms",
    "p50_us",
    "p90_us",
    "p99_us",
    "throughput_ips",
    "peak_rss_mb",
    "js_heap_mb",
    "wasm_heap_mb",
    "page_memory_mb",
    "runs_per_sample",
    "page_kb",
)
TIMEOUT_S = 600
BATCH_REPEATS = 20  # batches timed for the throughput figure
# TF.js's WebGPU runs on SwiftShader here, in software: a full evaluation takes half an hour (docs/performance.md,
# "TF.js backends and browsers"). It gets at most these counts, whatever was asked, and the method text says so.
WEBGPU_OPTIONS = {"runs": 10, "warmup": 2, "batch": 8, "batch_repeats": 2}


@dataclasses.dataclass(frozen=True, eq=False)  # keyed by identity: each setting is made once
class Setting:
    """One way to run one artifact: a runtime and its options."""

    artifact: Artifact
    # litert, tfjs-node-wasm, a browser target of the gate (tfjs-chromium-wasm, tfjs-firefox-wasm ...) or
    # litertjs-chromium-wasm (a pixels .tflite in LiteRT.js)
    runtime: str
    threads: int | None = None
    xnnpack: bool | None = None

    @property
    def label(self) -> str:
        if self.runtime != "litert":
            return "1 thread" if self.runtime == "tfjs-node-wasm" else "page"
        return f"{self.threads} thread{'s' if self.threads > 1 else ''}, {'XNNPACK' if self.xnnpack else 'no XNNPACK'}"

    @property
    def primary(self) -> bool:
        """The setting that stands for the artifact in the report: 1 thread as shipped, or the browser's wasm."""
        return (self.runtime == "litert" and self.threads == 1 and self.xnnpack) or self.runtime == "tfjs-chromium-wasm"


def plan(run: Run, runtimes: list[str] | None = None) -> tuple[list[Setting], list[str]]:
    """Every (artifact, runtime, option) to measure here, and why some runtimes cannot run."""
    from toolkit.runtimes import litert, litertjs_browser, tfjs_browser, tfjs_node

    settings, skipped = [], []
    wanted = set(runtimes) if runtimes else None
    reasons = {
        "litert": litert.unavailable(),
        "tfjs-node-wasm": tfjs_node.unavailable(),
        **{target.name: tfjs_browser.target_unavailable(target) for target in tfjs_browser.TARGETS},
        litertjs_browser.NAME: litertjs_browser.RUNTIME.unavailable(),
    }
    if wanted and wanted - set(reasons):
        raise InputError(
            f"unknown benchmark runtime {', '.join(sorted(wanted - set(reasons)))} (known: {', '.join(reasons)})"
        )
    for name, reason in reasons.items():
        if reason and (wanted is None or name in wanted):
            skipped.append(f"{name}: {reason}")
    # Without a GPU, WebGL and WebGPU are SwiftShader: software rendering many times slower than wasm, and it takes
    # the CPU with it; they, the other engines and LiteRT.js (like the gate) are measured only when asked for by name.
    default = {"litert", "tfjs-node-wasm", tfjs_browser.DEFAULT.name}
    ok = {name for name, reason in reasons.items() if not reason and name in (wanted or default)}
    for artifact in run.artifacts():
        if artifact.format is Format.TFLITE and "litert" in ok:
            settings += [Setting(artifact, "litert", t, x) for x in (True, False) for t in (1, 2)]
        if artifact.format is Format.TFLITE and litertjs_browser.NAME in ok and litertjs_browser.takes(artifact):
            settings.append(Setting(artifact, litertjs_browser.NAME))
        if artifact.format is Format.TFJS:
            browsers = [r for r in reasons if r not in ("litert", litertjs_browser.NAME)]
            settings += [Setting(artifact, r) for r in browsers if r in ok]
    return settings, skipped


def _litert(run: Run, setting: Setting, image_file: Path, options: dict) -> dict:
    job = {
        "model": str(run.artifact_dir(setting.artifact) / setting.artifact.main_file),
        "threads": setting.threads,
        "xnnpack": setting.xnnpack,
        "image": str(image_file),
        **options,
    }
    done = subprocess.run(
        [sys.executable, "-m", "toolkit.bench.worker", json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _node(run: Run, setting: Setting, options: dict) -> dict:
    from toolkit.runtimes.tfjs_node import node_executable
    from toolkit.web import assets as web_assets

    root = web_assets.locate().root
    command = [
        node_executable(),
        str(root / "node" / "benchmark.mjs"),
        "--model",
        str(run.artifact_dir(setting.artifact).resolve()),
        "--runs",
        str(options["runs"]),
        "--warmup",
        str(options["warmup"]),
        "--batch",
        str(options["batch"]),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=root)
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def browser_options(runtime: str, options: dict) -> dict:
    """The page's options (bench.js's names) for one browser target: WebGPU's counts capped (WEBGPU_OPTIONS)."""
    capped = runtime.endswith("-webgpu")
    chosen = {key: min(value, WEBGPU_OPTIONS[key]) if capped else value for key, value in options.items()}
    return {
        "runs": chosen["runs"],
        "warmup": chosen["warmup"],
        "batch": chosen["batch"],
        "batchRepeats": chosen["batch_repeats"],
    }


class _Browser:
    """One browser per target (engine and backend) for a round of measurements, the evaluation page loaded afresh
    for each model: no backend state carried over."""

    def __init__(self, run: Run, settings: list[Setting]):
        self.run, self.settings = run, settings

    def measure_all(self, options: dict, each: Callable[[Setting, dict | Exception], None]) -> None:
        import concurrent.futures

        # Playwright's sync API needs a thread without an event loop (see tfjs_browser).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(self._measure_all, options, each).result()

    def _measure_all(self, options: dict, each) -> None:
        from toolkit.runtimes.litertjs_browser import NAME as LITERTJS
        from toolkit.runtimes.tfjs_browser import DEFAULT, TARGETS, open_session
        from toolkit.serve.demo import make_model_server, running

        targets = {target.name: target for target in TARGETS} | {LITERTJS: DEFAULT}  # LiteRT.js: Chromium's wasm
        models = {s.artifact.name: self.run.artifact_dir(s.artifact) for s in self.settings}
        with running(make_model_server(models)) as base_url:
            for name in dict.fromkeys(s.runtime for s in self.settings):
                settings = [s for s in self.settings if s.runtime == name]
                try:
                    session = open_session(targets[name])
                except Exception as error:  # every model of this target reports it; the other targets still run
                    for setting in settings:
                        each(setting, RuntimeError(f"{name}: the browser did not start: {first_line(error)}"))
                    continue
                runtime_kb: list[float] = []  # what the first, uncached page took besides its model
                try:
                    for setting in settings:
                        result = _attempt(lambda s=setting, b=session: _page(b, base_url, s, options))
                        if isinstance(result, dict) and result.get("page_kb") is not None:
                            runtime_kb = runtime_kb or [result["page_kb"] - result["model_kb"]]
                            # A later page gets TF.js from the browser's cache: count what a fresh page downloads.
                            result["page_kb"] = runtime_kb[0] + result["model_kb"]
                        each(setting, result)
                finally:
                    session.close()


# Some drivers (WebKitWebDriver) return from a navigation before the page's module script ran: wait for it.
PAGE_READY = (
    "new Promise((resolve) => { const poll = () => window.edgekitEval ? resolve(window.edgekitEval.ready) "
    ": setTimeout(poll, 50); poll(); })"
)


def _page(session, base_url: str, setting: Setting, options: dict) -> dict:
    """One model benchmarked on a freshly loaded evaluation page of the setting's target."""
    if setting.runtime == "litertjs-chromium-wasm":
        return _litertjs_page(session, base_url, setting, options)
    backend = setting.runtime.split("-", 2)[2]  # tfjs-chromium-webgl-f16 -> webgl-f16
    # The model's name in the query: another address than the last model's, so the page loads anew (not a jump to
    # its fragment); the fragment names the target for eval.js.
    session.open(f"{base_url}eval.html?model={setting.artifact.name}#{backend}")
    session.call(PAGE_READY, TIMEOUT_S)
    arguments = json.dumps([f"models/{setting.artifact.name}/", None, browser_options(setting.runtime, options)])
    return session.call(f"window.edgekitEval.benchmark(...{arguments})", TIMEOUT_S)


LITERTJS_READY = (
    "new Promise((resolve) => { const poll = () => window.edgekitLiteRt ? resolve(true) : setTimeout(poll, 50); "
    "poll(); })"
)


def _litertjs_page(session, base_url: str, setting: Setting, options: dict) -> dict:
    """One pixels .tflite benchmarked in LiteRT.js on a freshly loaded litert-eval.html."""
    session.open(f"{base_url}litert-eval.html?model={setting.artifact.name}")
    session.call(LITERTJS_READY, TIMEOUT_S)
    url = f"{base_url}models/{setting.artifact.name}/{setting.artifact.main_file}"
    arguments = json.dumps([url, browser_options(setting.runtime, options)])
    return session.call(f"window.edgekitLiteRt.benchmark(...{arguments})", TIMEOUT_S)


def benchmark(
    run_dir: Path,
    runs: int = 1000,
    warmup: int = 100,
    rounds: int = 3,
    batch: int = 100,
    runtimes: list[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Measure every setting of `plan` in `rounds` interleaved rounds; write RUN/benchmark.json and return it."""
    if runs < 1 or rounds < 1 or batch < 1 or warmup < 0:
        raise InputError("--runs, --rounds and --batch must be at least 1, --warmup at least 0")
    run = Run.open(run_dir)
    settings, skipped = plan(run, runtimes)
    if not settings:
        raise InputError(f"{run.path}: nothing to benchmark ({'; '.join(skipped) or 'no TFLite or TF.js artifact'})")
    for reason in skipped:
        progress(f"skip  {reason}")
    image = load_run_data(run).x_test[:1]
    options = {"runs": runs, "warmup": warmup, "batch": batch, "batch_repeats": BATCH_REPEATS}
    started = time.perf_counter()
    measured = _measure_rounds(run, settings, image, options, rounds, progress)
    result = {
        "created": now(),
        "method": _method(rounds, warmup, runs, batch, settings),
        "runs": runs,
        "warmup": warmup,
        "rounds": rounds,
        "batch": batch,
        "seconds": round(time.perf_counter() - started, 1),
        "skipped": skipped,
        "environment": environment(),
        "results": summarize(run, measured),
    }
    atomic_write_json(run.benchmark_path, result)
    return result


def _method(rounds: int, warmup: int, runs: int, batch: int, settings: list[Setting]) -> str:
    """How the figures were made, in words for the table and the report."""
    webgpu = (
        f"; WebGPU (software SwiftShader here: slow, so small counts) at most {WEBGPU_OPTIONS['runs']} timed runs, "
        f"{WEBGPU_OPTIONS['warmup']} warm-up runs and {WEBGPU_OPTIONS['batch_repeats']} batches of "
        f"{WEBGPU_OPTIONS['batch']}"
    )
    return (
        f"{rounds} interleaved rounds; per round and setting: load, first inference, {warmup} warm-up runs, "
        f"{runs} timed single-image runs (p50/p90/p99), then batches of {batch}; LiteRT and Node each in a "
        "process of their own (peak RSS is that process's); browser memory is the page's wasm heap (it only "
        "grows) plus its JS heap. In the browser, whose clock ticks in 100 us steps, each latency sample is a "
        "run of consecutive inferences (runs_per_sample) timed together. Figures are medians over rounds; "
        "spread = min-max of the round p50s; ratios to float32 are taken within a round. Browsers: each target "
        "(engine and TF.js backend, as the gate names them) on a freshly loaded evaluation page per model; page_kb "
        "is what a fresh page downloads (TF.js with its backend, as each browser's first page took it, and the "
        "model)"
        + (
            "; LiteRT.js (litertjs-chromium-wasm): the pixels .tflite files (fixed batch of 1, so throughput is "
            "single-image runs back to back) on litert-eval.html, its wasm heap not readable"
            if any(s.runtime == "litertjs-chromium-wasm" for s in settings)
            else ""
        )
        + (webgpu if any(s.runtime.endswith("-webgpu") for s in settings) else "")
        + "."
    )


def _measure_rounds(
    run: Run, settings: list[Setting], image: np.ndarray, options: dict, rounds: int, progress: Callable[[str], None]
) -> dict[Setting, list[dict | Exception]]:
    """Every setting once per round, rounds one after the other; each setting's results in round order."""
    measured: dict[Setting, list[dict | Exception]] = {s: [] for s in settings}
    total, started = len(settings) * rounds, time.perf_counter()

    def record(setting: Setting, result: dict | Exception, round_: int) -> None:
        measured[setting].append(result)
        count = sum(len(r) for r in measured.values())
        figure = f"p50 {result['p50_us']:8.1f} us" if isinstance(result, dict) else f"failed: {result}"
        eta = (time.perf_counter() - started) / count * (total - count)
        progress(
            f"[{count}/{total}] round {round_ + 1}/{rounds} {setting.artifact.name:<21} {setting.runtime:<23} "
            f"{setting.label:<22} {figure}   ~{eta:.0f} s to go"
        )

    litert = [s for s in settings if s.runtime == "litert"]
    node = [s for s in settings if s.runtime == "tfjs-node-wasm"]
    browser = [s for s in settings if s.runtime not in ("litert", "tfjs-node-wasm")]
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        image_files = {}
        for artifact in {s.artifact.name: s.artifact for s in litert}.values():
            image_files[artifact.name] = Path(tmp) / f"{artifact.name}.npy"
            model_input = to_model_input(image, artifact.classifier, artifact.input)
            np.save(image_files[artifact.name], model_input, allow_pickle=False)
        for round_ in range(rounds):
            # Rotate the order each round so that no artifact always runs first (or right after another).
            shift = round_ % max(len(litert), 1)
            for s in litert[shift:] + litert[:shift]:
                record(s, _attempt(lambda s=s: _litert(run, s, image_files[s.artifact.name], options)), round_)
            for s in node:
                record(s, _attempt(lambda s=s: _node(run, s, options)), round_)
            if browser:
                _Browser(run, browser).measure_all(options, lambda s, r, k=round_: record(s, r, k))
    return measured


def _attempt(measure: Callable[[], dict]) -> dict | Exception:
    try:
        return measure()
    except Exception as error:  # one failed setting is reported in its row; the others still run
        return RuntimeError(first_line(error))


def summarize(run: Run, measured: dict[Setting, list[dict | Exception]]) -> list[dict[str, Any]]:
    """One row per setting: medians over rounds, the spread of p50, and p50 relative to float32 in the same round."""
    gzipped: dict[str, int] = {}
    float32 = {
        (s.artifact.format, s.runtime, s.threads, s.xnnpack): rounds
        for s, rounds in measured.items()
        # the format's plain float32 file, not a pixels artifact (which does more: gray conversion, normalization)
        if s.artifact.variant.value == "float32" and s.artifact.source == "float" and s.artifact.pixels is None
    }
    rows = []
    for setting, rounds in measured.items():
        artifact = setting.artifact
        if artifact.name not in gzipped:
            gzipped[artifact.name] = gzip_size(run.artifact_dir(artifact), artifact)
        good = [r for r in rounds if isinstance(r, dict)]
        row: dict[str, Any] = {
            "artifact": artifact.name,
            "format": artifact.format.value,
            "variant": artifact.variant.value,
            "runtime": setting.runtime,
            "setting": setting.label,
            "threads": setting.threads,
            "xnnpack": setting.xnnpack,
            "primary": setting.primary,
            "size_bytes": artifact.size_bytes,
            "gzip_bytes": gzipped[artifact.name],
            "int16_activations": artifact.int16_activations,
            "rounds": len(good),
            "error": next((str(r) for r in rounds if isinstance(r, Exception)), None)
            if len(good) < len(rounds)
            else None,
        }
        for key in FIGURES:
            values = [r[key] for r in good if r.get(key) is not None]
            row[key] = statistics.median(values) if values else None
        p50s = [r["p50_us"] for r in good]
        row["p50_us_min"], row["p50_us_max"] = (min(p50s), max(p50s)) if p50s else (None, None)
        row["ops"] = good[0].get("ops") if good else None
        reference = float32.get((artifact.format, setting.runtime, setting.threads, setting.xnnpack))
        ratios = [
            a["p50_us"] / b["p50_us"]
            for a, b in zip(rounds, reference or [], strict=False)
            if isinstance(a, dict) and isinstance(b, dict)
        ]
        row["p50_vs_float32"] = statistics.median(ratios) if ratios else None
        row["p50_vs_float32_min"], row["p50_vs_float32_max"] = (min(ratios), max(ratios)) if ratios else (None, None)
        rows.append(row)
    return rows


def render_table(result: dict[str, Any]) -> str:
    """The console table: one line per setting."""
    head = (
        f"{'artifact':<21} {'runtime':<23} {'setting':<22} {'size KB':>8} {'gzip KB':>8} {'load ms':>8} "
        f"{'first ms':>8} {'p50 us':>8} {'p90 us':>8} {'p99 us':>8} {'p50 spread':>15} {'vs f32':>13} "
        f"{'img/s':>7} {'RSS MB':>7} {'page KB':>8}"
    )
    lines = [head, "-" * len(head)]

    def f(value, spec):
        return "-" if value is None else format(value, spec)

    for r in result["results"]:
        spread = "-" if r["p50_us_min"] is None else f"{r['p50_us_min']:.1f}-{r['p50_us_max']:.1f}"
        ratio = (
            "-"
            if r["p50_vs_float32"] is None
            else f"{r['p50_vs_float32']:.2f} ({r['p50_vs_float32_min']:.2f}-{r['p50_vs_float32_max']:.2f})"
        )
        memory = r["peak_rss_mb"] if r["peak_rss_mb"] is not None else r.get("page_memory_mb")
        lines.append(
            f"{r['artifact']:<21} {r['runtime']:<23} {r['setting']:<22} {r['size_bytes'] / 1024:>8.1f} "
            f"{r['gzip_bytes'] / 1024:>8.1f} {f(r['load_ms'], '8.1f')} {f(r['first_ms'], '8.2f')} "
            f"{f(r['p50_us'], '8.1f')} {f(r['p90_us'], '8.1f')} {f(r['p99_us'], '8.1f')} {spread:>15} {ratio:>13} "
            f"{f(r['throughput_ips'], '7.0f')} {f(memory, '7.0f')} {f(r.get('page_kb'), '8.0f')}"
            + (f"  error: {r['error']}" if r["error"] else "")
        )
    if any(r.get("int16_activations") for r in result["results"]):
        slow = sorted({r["artifact"] for r in result["results"] if r.get("int16_activations")})
        lines.append(f"{', '.join(slow)}: int16 activations, which XNNPACK does not run (reference kernels on CPUs).")
    if int4 := sorted({r["artifact"] for r in result["results"] if r.get("variant") == "weights-int4"}):
        lines.append(f"{', '.join(int4)}: int4 weights, whose DEQUANTIZE XNNPACK does not take (it runs every time).")
    lines.append(result["method"])
    return "\n".join(lines)
