"""report.html: one self-contained page per run (plots and images inline) drawn from what the gate recorded."""

from __future__ import annotations

import base64
import gzip
import io
from pathlib import Path
from typing import Any

import numpy as np

from exporters.base import CONTRACT_FILE, Artifact, Variant
from toolkit.data.run_data import load_run_data
from toolkit.errors import InputError
from toolkit.gate.evidence import REFERENCE_RUNTIME, Predictions, confusion, per_class
from toolkit.gate.verdict import entry_verdict
from toolkit.launcher import command
from toolkit.report.document import overall
from toolkit.run import Run, atomic_write_text

# The evaluation whose figures stand for an artifact: the runtime users deploy it to, when it ran there.
# tfjs-browser-wasm: what reports before the browser matrix called tfjs-chromium-wasm.
PRIMARY_RUNTIMES = ("litert", "tfjs-chromium-wasm", "tfjs-browser-wasm", "tfjs-node-wasm", "tensorflow")
MEDIAPIPE, LITERTJS = "mediapipe", "litertjs-chromium-wasm"
# The recommendation's rows: where a file goes, and what it must be to go there.
INTERPRETER = "LiteRT interpreter (TFLite, CPU; app does the preprocessing)"
INTEGER_ONLY = "NPUs, DSPs, Edge TPU (full-integer TFLite)"
TASKS = "MediaPipe Tasks ImageClassifier (Android, iOS, web, Python)"
BROWSER_TFJS, BROWSER_LITERTJS = "browsers: TF.js", "browsers: LiteRT.js (the .tflite itself)"
# Said where a row's file was not run by the runtime the row is for.
NOT_IN_MEDIAPIPE = "not gated in MediaPipe Tasks here (--targets mediapipe): in LiteRT, the same file and kernels"
GALLERY = 24  # images per gallery: enough to see a pattern, few enough to look at each
# Difference matrices: blue where the artifact does better than its reference, orange where worse (the Okabe-Ito
# pair, told apart with every common colour-vision deficiency); each cell also carries its sign.
BETTER, WORSE = "0, 114, 178", "213, 94, 0"


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)  # no bbox_inches="tight": it draws every figure twice
    import matplotlib.pyplot as plt

    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _digit(image: np.ndarray) -> str:
    """A uint8 image (H, W) or (H, W, 3) as an inline PNG (scaled up in the page by CSS, pixels kept sharp)."""
    from PIL import Image

    buffer = io.BytesIO()
    pixels = np.asarray(image, dtype=np.uint8)
    Image.fromarray(pixels, mode="L" if pixels.ndim == 2 else "RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _matrices(titles_and_matrices: list[tuple[str, np.ndarray, bool]], labels: list[str]) -> list[dict[str, Any]]:
    """Confusion matrices side by side as tables shaded by count (log scale). A difference matrix (third element
    True, artifact minus reference) is shaded by what a change means, not by its sign: more images on the diagonal
    or fewer off it is better (blue), the reverse worse (orange), darker the larger. Tables, not plots: the counts
    stay readable and selectable, and drawing five matplotlib figures took 2 s of every gate."""
    tables = []
    for title, matrix, difference in titles_and_matrices:
        if difference:
            shade = np.abs(matrix) / max(1, int(np.abs(matrix).max()))
        else:
            shade = np.log1p(matrix) / max(np.log1p(matrix.max()), 1e-9)
        rows = []
        for i, label in enumerate(labels):
            cells = []
            for j in range(len(labels)):
                value, alpha = int(matrix[i, j]), round(0.15 + float(shade[i, j]) * 0.7, 3)
                colour = (BETTER if (value > 0) == (i == j) else WORSE) if difference else "9, 105, 218"
                style = f"background: rgba({colour}, {alpha})" + ("; color: #fff" if alpha > 0.5 else "")
                text = f"{value:+d}" if difference else value
                cells.append({"value": text if value else "", "style": style if value else ""})
            rows.append({"label": label, "cells": cells})
        tables.append({"title": title, "labels": labels, "rows": rows, "difference": difference})
    return tables


def curve_lines(steps: dict[str, Any]) -> list[tuple[str, str, list[int], list[float]]]:
    """(step, key, epochs, values) of every curve in training's and QAT's histories. QAT fine-tunes the trained
    model, so its epochs continue training's: a 7-epoch training and a 1-epoch QAT give QAT epoch 8."""
    lines, first = [], 1
    for step in ("train", "qat"):
        history = steps.get(step, {}).get("history") or {}
        length = max((len(v) for v in history.values() if isinstance(v, list)), default=0)
        for key in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
            if key in history:
                lines.append((step, key, list(range(first, first + len(history[key]))), list(history[key])))
        first += length
    return lines


def curves(steps: dict[str, Any]) -> list[tuple[str, str]] | None:
    """Training and QAT curves, validation dashed: (title, inline PNG) for loss, accuracy and learning rate.

    One figure per panel, so that a wide page shows them side by side and a phone one under the other, each at a
    size its type stays legible at. Drawn from the manifest alone, so the gate starts it in a thread while it
    evaluates (a second of matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = curve_lines(steps)
    if not lines:
        return None
    drawn = []
    for title, metric in (("loss", "loss"), ("accuracy", "accuracy"), ("learning rate", "lr")):
        mine = [line for line in lines if line[1].removeprefix("val_") == metric]
        if not mine:
            continue
        figure, ax = plt.subplots(figsize=(4.6, 3.3), gridspec_kw={"left": 0.17, "right": 0.97, "bottom": 0.15})
        for step, key, epochs, values in mine:
            ax.plot(epochs, values, "--" if key.startswith("val_") else "-", marker="o", label=f"{step} {key}")
        ax.set_title(title, fontsize=13)
        ax.set_xlabel("epoch", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=10)
        ax.grid(alpha=0.3)
        drawn.append((title, _png(figure)))
    return drawn


def gzip_size(directory: Path, artifact: Artifact) -> int:
    """Bytes of the artifact's files gzipped one by one, as a web server with gzip would send them: every file its
    contract lists (the ones its raw size counts, a SavedModel's variables/ included)."""
    names = sorted(artifact.files) or sorted(
        p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() and p.name != CONTRACT_FILE
    )
    return sum(len(gzip.compress((directory / name).read_bytes(), 6)) for name in names)


def _primary(predictions: Predictions | None, name: str) -> str | None:
    if predictions is None:
        return None
    return next((r for r in PRIMARY_RUNTIMES if (name, r) in predictions.entries), None)


def _benchmark_rows(run: Run) -> list[dict[str, Any]]:
    rows = (run.benchmark() or {}).get("results", [])
    return rows if isinstance(rows, list) else []


def _latency(rows: list[dict[str, Any]], name: str) -> float | None:
    """The artifact's median single-image latency in its main benchmark setting (1 thread, as shipped)."""
    for row in rows:
        if row.get("artifact") == name and row.get("primary"):
            return row.get("p50_us")
    return None


# Said beside an artifact with int16 activations wherever it is recommended (docs/quantization.md).
SLOW_INT16 = (
    "int16 activations: XNNPACK runs no int16 op, so on CPUs those ops run on reference kernels, many times slower "
    "than int8; the file suits an NPU or DSP with int16 support"
)
# Said beside a weight-only int4 file wherever it is recommended (docs/quantization.md).
INT4_WEIGHTS = (
    "int4 weights: XNNPACK does not take their DEQUANTIZE, so on CPUs this file runs slower than float32; it needs "
    "a LiteRT that reads int4 (tflite-runtime 2.14 refuses it)"
)


def recommendations(
    report: dict[str, Any],
    sizes: dict[str, int],
    latency: dict[str, float | None],
    int16: set[str] = frozenset(),
    int4: set[str] = frozenset(),
    traits: dict[str, set[str]] | None = None,
) -> list[dict]:
    """Per target, the smallest artifact that fits it and passed in every runtime it was evaluated in; this
    machine's latency only breaks a tie in size, as an x86 CPU says little about a phone's CPU, GPU or NPU.

    `traits` names what each artifact is: `pixels` (RGB pixels in, what MediaPipe Tasks and LiteRT.js open) and
    `fully_integer` (integer tensors in and out, no float op: what integer-only NPUs and DSPs run). MediaPipe Tasks
    and LiteRT.js, when the gate ran them, take only what they ran. `int16` names the artifacts with int16
    activations and `int4` those with int4 weights, whose recommendation says what that costs on CPUs."""
    traits = traits or {}
    verdicts: dict[str, list[bool]] = {}
    formats: dict[str, str] = {}
    runtimes: dict[str, set[str]] = {}
    for entry in report["artifacts"]:
        verdicts.setdefault(entry["name"], []).append(bool(entry["passed"]))
        formats[entry["name"]] = entry["format"]
        runtimes.setdefault(entry["name"], set()).add(entry["runtime"])

    def has(name: str, trait: str) -> bool:
        return trait in traits.get(name, ())

    def ran(runtime: str) -> bool:
        return any(runtime in r for r in runtimes.values())

    tflite = [n for n in formats if formats[n] == "tflite"]
    targets = [(INTERPRETER, lambda n: n in tflite and not has(n, "pixels"), None)] if tflite else []
    targets += [(INTEGER_ONLY, lambda n: n in tflite and has(n, "fully_integer"), None)] if tflite else []
    if ran(MEDIAPIPE) or any(has(n, "pixels") for n in formats):
        tasks_note = None if ran(MEDIAPIPE) else NOT_IN_MEDIAPIPE
        targets.append(
            (TASKS, lambda n: MEDIAPIPE in runtimes[n] or (has(n, "pixels") and not ran(MEDIAPIPE)), tasks_note)
        )
    if "tfjs" in formats.values():
        targets.append((BROWSER_TFJS, lambda n: formats[n] == "tfjs", None))
    if ran(LITERTJS):
        targets.append((BROWSER_LITERTJS, lambda n: LITERTJS in runtimes[n], None))
    result = []
    for target, fits, why in targets:
        passed = [n for n, v in verdicts.items() if fits(n) and all(v)]
        best = min(passed, key=lambda n: (sizes.get(n, 0), latency.get(n) or float("inf")), default=None)
        cost = SLOW_INT16 if best in int16 else INT4_WEIGHTS if best in int4 else None
        note = "; ".join(x for x in (why if best else None, cost) if x) or None
        result.append(
            {"target": target, "artifact": best, "size": sizes.get(best), "latency_us": latency.get(best), "note": note}
        )
    return result


def artifact_traits(run: Run, artifacts: dict[str, Artifact]) -> dict[str, set[str]]:
    """What `recommendations` needs to know of each artifact: `pixels`, `fully_integer` (read from its file)."""
    from exporters.base import Format
    from exporters.tflite_quantizer import float_ops

    traits: dict[str, set[str]] = {}
    for name, artifact in artifacts.items():
        traits[name] = {"pixels"} if artifact.pixels is not None else set()
        integer = {"int8", "uint8", "int16"}
        if artifact.format is Format.TFLITE and {artifact.input.dtype, artifact.output.dtype} <= integer:
            path = run.artifact_dir(artifact) / artifact.main_file
            if path.is_file() and not float_ops(path.read_bytes()):
                traits[name].add("fully_integer")
    return traits


def render(
    run: Run,
    report: dict[str, Any],
    predictions: Predictions | None,
    test_images: np.ndarray | None = None,
    curves_png: list[tuple[str, str]] | None = None,
) -> str:
    """The page as a string (see write_html)."""
    import jinja2

    artifacts = {a.name: a for a in run.artifacts()}
    entries = report["artifacts"]
    names = list(dict.fromkeys(e["name"] for e in entries))
    cells = {(e["name"], e["runtime"]): e for e in entries}
    sizes = {n: a.size_bytes for n, a in artifacts.items()}
    bench = _benchmark_rows(run)
    latency = {n: _latency(bench, n) for n in names}
    evidence = _Evidence(run, predictions, test_images)
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("toolkit.report", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    ).get_template("report.html.j2")
    return template.render(
        report=report,
        verdict=overall(report) if "inconclusive" in report else ("passed" if report["passed"] else "failed"),
        entry_verdict=entry_verdict,
        run_name=run.path.name,
        names=names,
        runtimes=list(dict.fromkeys(e["runtime"] for e in entries)),
        cells=cells,
        artifacts=artifacts,
        sizes=sizes,
        gzipped={n: gzip_size(run.artifact_dir(a), a) for n, a in artifacts.items()},
        latency=latency,
        recommendations=recommendations(
            report,
            sizes,
            latency,
            {n for n, a in artifacts.items() if a.int16_activations},
            {n for n, a in artifacts.items() if a.variant is Variant.WEIGHTS_INT4},
            artifact_traits(run, artifacts),
        ),
        hint={verb: command(verb, run.path) for verb in ("benchmark", "report")},
        confusion_refs=evidence.reference_tables(),
        evidence=[e for name in names if (e := evidence.of(name, cells)) is not None],
        mistakes=evidence.mistakes(),
        curves=curves_png if curves_png is not None else curves(run.manifest.get("steps", {})),
        tensorboard=run.tensorboard_dir().is_dir(),
        benchmark=bench,
        benchmark_meta=_benchmark_meta(run),
        environment=report.get("environment") or {},
    )


class _Evidence:
    """What the kept predictions show: confusion matrices, per-class figures and galleries of test images."""

    def __init__(self, run: Run, predictions: Predictions | None, test_images: np.ndarray | None):
        self.predictions = predictions
        self.labels = list(run.classifier.labels)
        self.references: dict[str, np.ndarray] = {}
        if predictions is None:
            return
        self.truth = predictions.labels.astype(np.int64)
        k = len(self.labels)
        self.references = {
            n: confusion(self.truth, predictions.reference(n), k)
            for (n, r) in predictions.entries
            if r == REFERENCE_RUNTIME
        }
        self.images = test_images if test_images is not None else _test_images(run, len(self.truth))

    def reference_tables(self) -> list[dict[str, Any]] | None:
        if self.predictions is None:
            return None
        return _matrices([(f"Keras {n}", m, False) for n, m in self.references.items()], self.labels)

    def of(self, name: str, cells: dict) -> dict[str, Any] | None:
        """One artifact's evidence in its primary runtime, against its reference; None when there is none."""
        runtime = _primary(self.predictions, name)
        source = cells[(name, runtime)]["source"] if runtime else None
        if runtime is None or source not in self.references:
            return None
        predicted = self.predictions.predicted(name, runtime)
        matrix = confusion(self.truth, predicted, len(self.labels))
        figures, ref_figures = per_class(matrix), per_class(self.references[source])
        disagree = np.flatnonzero(predicted != self.predictions.reference(source))
        tables = [
            (f"{name} ({runtime})", matrix, False),
            (f"{name} minus Keras {source}", matrix - self.references[source], True),
        ]
        return {
            "name": name,
            "runtime": runtime,
            "source": source,
            "disagreements": len(disagree),
            # Without a disagreement the matrix is the reference's, drawn above: no figure to draw.
            "matrix": _matrices(tables, self.labels) if len(disagree) else None,
            "classes": [
                {
                    "label": label,
                    **{key: figures[key][c] for key in ("precision", "recall", "f1", "support")},
                    **{f"d_{key}": figures[key][c] - ref_figures[key][c] for key in ("precision", "recall", "f1")},
                }
                for c, label in enumerate(self.labels)
            ],
            "gallery": [
                _tile(self.images, self.predictions, i, self.labels, (name, runtime), (source, REFERENCE_RUNTIME))
                for i in disagree[:GALLERY]
            ],
        }

    def mistakes(self) -> list[dict[str, Any]]:
        """The float reference's most confident mistakes."""
        if "float" not in self.references:
            return []
        top = self.predictions.entries[("float", REFERENCE_RUNTIME)]
        wrong = np.flatnonzero(top["top_i"][:, 0] != self.truth)
        order = wrong[np.argsort(-top["top_p"][wrong, 0].astype(np.float32), kind="stable")][:GALLERY]
        return [_tile(self.images, self.predictions, i, self.labels, ("float", REFERENCE_RUNTIME)) for i in order]


def _benchmark_meta(run: Run) -> dict[str, Any]:
    return {k: v for k, v in (run.benchmark() or {}).items() if k != "results"}


def _test_images(run: Run, count: int) -> np.ndarray | None:
    """The run's test images (checked against the recorded fingerprint), or None when the data is gone."""
    try:
        images = load_run_data(run).x_test
    except (InputError, OSError):
        return None
    return images if len(images) == count else None


def _tile(images, predictions: Predictions, index: int, labels: list[str], *keys: tuple[str, str]) -> dict:
    shown = []
    for name, runtime in keys:
        entry = predictions.entries[(name, runtime)]
        shown.append(
            {
                "who": f"Keras {name}" if runtime == REFERENCE_RUNTIME else f"{name} ({runtime})",
                "top": [
                    (labels[int(c)], float(p) * 100)
                    for c, p in zip(entry["top_i"][index], entry["top_p"][index], strict=True)
                ],
            }
        )
    return {
        "index": int(index),
        "label": labels[int(predictions.labels[index])],
        "image": None if images is None else _digit(images[index]),
        "predictions": shown,
    }


def write_html(
    run: Run,
    report: dict[str, Any],
    predictions: Predictions | None = None,
    test_images: np.ndarray | None = None,
    curves_png: list[tuple[str, str]] | None = None,
) -> Path:
    """Write RUN/report.html from the report and the predictions the gate kept; returns its path.

    `test_images` are the run's uint8 test images and `curves_png` the curves already drawn (see curves), when
    the caller (the gate) has them: loading the data again or drawing after the gate takes seconds.
    """
    atomic_write_text(run.report_html_path, render(run, report, predictions, test_images, curves_png))
    return run.report_html_path


def rewrite_html(run_dir: Path) -> Path:
    """Redraw report.html from what the run recorded (`edgekit report RUN`).

    Raises:
        InputError: the run has not been through the gate.
    """
    run = Run.open(run_dir)
    report = run.report()
    if report is None:
        raise InputError(f"{run.path} has no report.json: run `{command('validate', run.path)}` first")
    return write_html(run, report, Predictions.load(run))
