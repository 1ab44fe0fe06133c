"""`validate`: the parity gate over every artifact of a run, the fix ladder on an int8 breach (`--fix`), and the
reports (report.json, report.md, report.html, predictions.npz)."""

from __future__ import annotations

import concurrent.futures
import logging
import time
from pathlib import Path

import numpy as np

from exporters import Variant
from exporters.native_log import native_stderr_to_debug_log
from toolkit.config import Config
from toolkit.data.datasets import Dataset
from toolkit.data.run_data import load_run_data, representative_inputs
from toolkit.errors import InconclusiveError, InputError, ParityError
from toolkit.gate import kept
from toolkit.gate.evidence import Predictions, per_class_report
from toolkit.gate.parity import ParityOutcome, check_parity, plan
from toolkit.gate.stats import accuracy
from toolkit.launcher import command
from toolkit.modeling.keras_files import load_run_model, refuse_code
from toolkit.report.document import build_report, keep_previous, write_report
from toolkit.report.environment import environment
from toolkit.report.html import curves, write_html
from toolkit.run import Run
from toolkit.runtimes import FORMER_NAMES, RUNTIMES

log = logging.getLogger("edgekit")


def validate(run_dir: Path, config: Config) -> dict:
    """Run the parity gate over every artifact of the run; write report.json, report.md, report.html and the
    predictions they are drawn from (predictions.npz).

    With `config.parity.runtimes` set, the previous report's results in the other runtimes are kept, marked as
    from the previous run, so a partial re-run never silently shrinks a full report.

    Returns:
        The report (also written to the run directory).

    Raises:
        ParityError: an evaluation is outside its tolerance (the report is written first); its `verdict` is
            "FAILED (n)".
    """
    run = Run.open(run_dir)
    run.require_finished("train", "import", "qat", "export")
    previous = _take_previous(run, config)  # before anything can fail: no old report survives a gate that stops
    run.clear_staging()
    artifacts = run.artifacts()
    if not artifacts:
        raise InputError(f"{run.path} has no exported artifacts: run `{command('export', run.path)}` first")
    evaluations, skipped = plan(artifacts, config.parity)
    runtimes = sorted({runtime.name for _, runtime in evaluations}, key=list(RUNTIMES).index)
    run.start("validate")
    not_here = f" ({len(skipped)} not possible here)" if skipped else ""
    log.info(
        "parity gate: %d evaluations of %d artifacts in %s%s",
        *(len(evaluations), len(artifacts), ", ".join(runtimes) or "no runtime", not_here),
    )
    start = time.perf_counter()
    # report.html's training curves depend on the manifest only: drawn while the runtimes work, not after.
    drawing = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgekit-report")
    curves_png = drawing.submit(curves, run.manifest.get("steps", {}))
    drawing.shutdown(wait=False)
    # TensorFlow, LiteRT and XNNPACK print to file descriptor 2 ("Created TensorFlow Lite XNNPACK delegate");
    # kept for --verbose.
    with native_stderr_to_debug_log():
        data = load_run_data(run)
        references = _references(run, sorted({"float"} | {a.source for a in artifacts}), data.x_test)
        reference_accuracy = {name: round(accuracy(p, data.y_test), 4) for name, p in references.items()}
        log.info("reference: %s", ", ".join(f"{k} {v:.2f}%" for k, v in reference_accuracy.items()))
        kept_outputs = _kept_evaluations(run, evaluations, len(data.x_test), config)

        def gate() -> ParityOutcome:
            return _gate(run, config, data, references, kept_outputs)

        outcome = gate()
        outcome, extra = _after_breaches(run, outcome, data, references, config, gate)
    report = build_report(run, outcome, reference_accuracy, time.perf_counter() - start)
    report.update({k: v for k, v in extra.items() if v})  # the worst int8 layers, and what --fix did
    if config.parity.allow_chance_reference:
        report["allow_chance_reference"] = True  # the user said the reference is untrained on purpose
    _write_reports(run, report, outcome, data, references, config, curves_png.result(), previous)
    _raise_unless_passed(report)
    log.info("PASSED")
    return report


def _raise_unless_passed(report: dict) -> None:
    """ParityError (exit 1) naming each breach, or InconclusiveError (exit 3) naming what could not be known."""
    if report["verdict"] == "failed":
        breaches = report["breaches"]
        error = ParityError(f"parity gate failed for {len(breaches)} evaluation(s): " + " | ".join(breaches))
        error.verdict = f"FAILED ({len(breaches)})"
        raise error
    if report["verdict"] == "inconclusive":
        doubts = report["inconclusive"] or ["no artifact could be evaluated"]
        error = InconclusiveError(f"nothing failed, but the gate cannot vouch for: {' | '.join(doubts)}")
        error.verdict = f"INCONCLUSIVE ({len(doubts)})"
        raise error


def _gate(run: Run, config: Config, data: Dataset, references: dict, kept_outputs: dict) -> ParityOutcome:
    expected = list(run.manifest["steps"].get("export", {}).get("artifacts", {}))
    labels = data.y_test.astype(np.int64)
    return check_parity(
        run, run.artifacts(), data.x_test, labels, references, config.parity, log.info, expected, kept_outputs
    )


def _take_previous(run: Run, config: Config) -> tuple[dict | None, Predictions | None]:
    """The last report and predictions, for a gate limited to some runtimes (`-r`) to carry the others' results
    over; then the report files go, so that a gate that stops leaves none that looks current."""
    previous: tuple[dict | None, Predictions | None] = (None, None)
    if config.parity.runtimes is not None:
        try:
            previous = run.report(), Predictions.load(run)
        except InputError as error:  # damaged: nothing to carry over, and this gate writes a new one
            log.info("previous report not kept: %s", error)
    run.forget_report()
    return previous


def _write_reports(run: Run, report: dict, outcome, data: Dataset, references: dict, config: Config, png, previous):
    """report.json, report.md, predictions.npz and report.html; the gate's kept outputs for the next gate."""
    _keep_evaluations(run, outcome, report["created"])
    report["environment"] = environment()
    labels = data.y_test.astype(np.int64)
    predictions = Predictions.from_probabilities(labels, references, outcome.predictions)
    if config.parity.runtimes is not None:
        digests = {a.name: a.digest for a in run.artifacts()}
        # A runtime's former name in an older report is that runtime: its results are replaced, not carried.
        named = set(config.parity.runtimes)
        named |= {old for old, new in FORMER_NAMES.items() if new in named}
        carried = keep_previous(report, previous[0], named, digests)
        if carried:
            log.info("kept %d result(s) in other runtimes from the previous report (same files)", len(carried))
        predictions.keep_previous(previous[1], set(carried))
    predictions.save(run)
    sources = {a.name: a.source for a in run.artifacts()}
    report["per_class"] = per_class_report(predictions, sources, references["float"].shape[1])
    write_report(run, report)
    write_html(run, report, predictions, data.x_test, png)
    run.record(
        "validate", {"verdict": report["verdict"], "passed": report["passed"], "seconds": report["gate_seconds"]}
    )
    log.info("report: %s (and report.md, report.html)", run.report_path)


def _references(run: Run, sources: list[str], images: np.ndarray) -> dict[str, np.ndarray]:
    """Those kept by export (or the last gate) when still valid for these models and images; else computed here,
    and kept."""
    from toolkit.runtimes.keras import KerasPredictor

    for source in sources:  # the run's trust decision holds even when no model needs loading
        refuse_code(run.model_path(source), run.trusts_model)
    found = kept.load(run, sources, len(images))
    if found is not None:
        log.info("Keras references: kept (model files and test set unchanged)")
        return found
    log.info("Keras references on %d test images", len(images))
    computed = {s: KerasPredictor(load_run_model(run, s), run.classifier).predict(images) for s in sources}
    kept.store(run, computed)  # sealed for the next gate, as export keeps them
    return computed


def _kept_evaluations(run: Run, evaluations: list, count: int, config: Config) -> dict:
    """The outputs the last gate kept of the in-process TensorFlow runtimes' evaluations, where the files, the test
    set and the engine versions are unchanged (toolkit.gate.kept); a runtime named with `-r` runs afresh."""
    named = set(config.parity.runtimes or ())
    wanted = [(a, r.name, r.engine_version()) for a, r in evaluations if r.engine_version and r.name not in named]
    found = kept.load_evaluations(run, wanted, count)
    if found:
        runtimes = ", ".join(sorted({runtime for _, runtime in found}))
        log.info("%d evaluation(s) in %s: outputs kept from the last gate (same files, test set and versions)",
                 len(found), runtimes)  # fmt: skip
    return found


def _keep_evaluations(run: Run, outcome: ParityOutcome, created: str) -> None:
    """Keep this gate's outputs of the in-process TensorFlow runtimes for the next gate on the same files."""
    artifacts = {a.name: a for a in run.artifacts()}
    entries = []
    for result in outcome.results:
        runtime = RUNTIMES.get(result.runtime)
        probabilities = outcome.predictions.get((result.name, result.runtime))
        if runtime is None or runtime.engine_version is None or probabilities is None or result.name not in artifacts:
            continue
        when = result.kept_from or created
        version = runtime.engine_version()
        entries.append((artifacts[result.name], runtime.name, version, probabilities, result.seconds, when))
    if entries:
        kept.store_evaluations(run, entries)


def _after_breaches(run: Run, outcome: ParityOutcome, data: Dataset, references: dict, config: Config, regate):
    """On int8 PTQ breaches: name the worst layers (always) and, with `--fix`, climb the remedy ladder; gate the
    whole run again when a remedy replaced a file.

    Returns:
        (the outcome to report, {"debug": {name: worst layers}, "fixes": [...]}); both empty without breaches.
    """
    from toolkit.fix import debug, remedy

    extra: dict = {"debug": {}, "fixes": []}
    failing = sorted(
        {r.name for r in outcome.results if not r.passed and r.format == "tflite" and r.variant == Variant.INT8.value}
        & {a.name for a in run.artifacts() if a.source == "float" and a.pixels is None}
    )
    if not failing:
        return outcome, extra
    model = load_run_model(run, "float")  # under the trust decision the run recorded, as every step
    seed = run.recorded_seed(config.train.seed)
    shape = tuple(model.input_shape[1:])
    representative = representative_inputs(data, config.export.representative_size, run.classifier, shape, seed)
    artifacts = {a.name: a for a in run.artifacts()}
    for name in failing:
        extra["debug"][name] = debug.worst_layers(model, representative)
        if config.parity.fix:
            extra["fixes"].append(remedy.fix_int8(run, artifacts[name], model, data, references, config))
    if any(f["fixed"] for f in extra["fixes"]):
        outcome = regate()
    return outcome, extra
