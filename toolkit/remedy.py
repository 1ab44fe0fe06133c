"""`--fix`: when an int8 PTQ artifact fails the gate, try remedies in order and keep the first artifact that passes.

1. a larger, class-balanced calibration set; 2. selective quantization, the worst layers (toolkit.debug) kept in
float; 3. quantization-aware fine-tuning, when the run has training data. Each candidate is gated in LiteRT on the
full test set like any artifact; what was tried, and what the kept one costs in size and latency, goes to the report.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np

from exporters import Variant
from exporters.base import Artifact, Normalization
from toolkit.data import Dataset, to_inputs

log = logging.getLogger("edgekit")
BALANCED_PER_CLASS = 200  # 2,000 calibration images for 10 classes, four times the default 500 drawn at random
DENYLIST_SIZES = (1, 2, 3)


def balanced_inputs(
    data: Dataset, per_class: int, shape: tuple[int, ...], seed: int, normalization: Normalization
) -> np.ndarray:
    """Up to `per_class` training images of every class, model-shaped and normalized."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(data.y_train == k), min(per_class, int(np.sum(data.y_train == k))), replace=False)
        for k in np.unique(data.y_train)
    ]
    return to_inputs(data.x_train[np.concatenate(picks)], shape, normalization)


def latency_ms(path: Path, artifact: Artifact, images: np.ndarray, repeats: int = 3) -> float:
    """Median LiteRT time per image, one thread, batches of 100 (a relative figure: machines differ)."""
    from toolkit.runtimes.litert import LiteRTPredictor

    predictor = LiteRTPredictor(path, artifact, num_threads=1)
    batch = images[:100]
    predictor.predict(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(batch)
        times.append((time.perf_counter() - start) / len(batch) * 1000)
    return round(float(np.median(times)), 4)


def _gate(artifact: Artifact, run_path: Path, images, labels, references, config):

    from toolkit.parity import check_parity

    outcome = check_parity(
        [artifact], run_path, images, labels, references, config.parity.model_copy(update={"runtimes": ["litert"]})
    )
    return outcome.results[0]


def _candidates(model, data: Dataset, config, failing: Artifact, run):
    """(description, callable(dest, run_dir) -> Artifact) in the order they are tried."""
    from exporters import tflite
    from toolkit.debug import layer_errors, selective_int8

    shape = tuple(model.input_shape[1:])
    classifier = failing.classifier
    balanced = balanced_inputs(data, BALANCED_PER_CLASS, shape, config.train.seed, classifier.normalization)
    where = dict(name=failing.name, source="float", classifier=classifier)

    def calibrate(dest, run_dir, model=model):
        return tflite.export(model, dest, Variant.INT8, run_dir=run_dir, representative=balanced, **where)

    yield f"calibration on {len(balanced)} class-balanced training images", calibrate
    worst = [layer.node for layer in layer_errors(model, balanced)]
    for count in DENYLIST_SIZES[: len(worst)]:
        kept = worst[:count]

        def selective(dest, run_dir, kept=kept):
            flatbuffer = selective_int8(model, balanced, kept)
            return tflite.write(flatbuffer, dest, Variant.INT8, run_dir=run_dir, **where)

        yield f"selective quantization: {', '.join(kept)} kept in float", selective
    if len(data.x_train) >= 100:

        def qat(dest, run_dir):
            from toolkit.config import validation_size
            from toolkit.qat_model import quantize_and_finetune

            validation = validation_size(config.train, len(data.x_train))
            qat_model, _ = quantize_and_finetune(model, data, config.qat, validation, config.train.seed, classifier)
            return calibrate(dest, run_dir, qat_model)

        yield f"quantization-aware fine-tuning ({config.qat.epochs} epoch(s)) on the run's training data", qat


def fix_int8(run, failing: Artifact, model, data: Dataset, images, labels, references, config) -> dict:
    """Try the remedies for one failing int8 PTQ artifact; on success its files are replaced in the run.

    Returns:
        What was tried (with each candidate's verdict) and, when one passed, what it costs against the original.
    """
    original_dir = run.path / failing.path
    original_size = failing.size_bytes
    original_latency = latency_ms(original_dir / failing.main_file, failing, images)
    tried = []
    for description, make in _candidates(model, data, config, failing, run):
        scratch = run.path / ".fix"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            artifact = make(scratch / failing.path, scratch)
        except Exception as error:  # a remedy the converter refuses is skipped, with the reason
            tried.append({"remedy": description, "passed": False, "error": str(error).splitlines()[0][:200]})
            continue
        result = _gate(artifact, scratch, images, labels, references, config)
        tried.append({"remedy": description, "passed": result.passed, "reasons": result.reasons})
        log.info("fix   %-18s %s: %s", failing.name, description, "pass" if result.passed else "fail")
        if result.passed:
            latency = latency_ms(scratch / artifact.path / artifact.main_file, artifact, images)
            shutil.rmtree(original_dir)
            shutil.move(scratch / artifact.path, original_dir)
            shutil.rmtree(scratch, ignore_errors=True)
            return {
                "artifact": failing.name,
                "fixed": True,
                "remedy": description,
                "tried": tried,
                "size_bytes": {"before": original_size, "after": artifact.size_bytes},
                "latency_ms_per_image": {"before": original_latency, "after": latency, "threads": 1},
            }
        shutil.rmtree(scratch, ignore_errors=True)
    return {"artifact": failing.name, "fixed": False, "tried": tried}


def after_gate(run, outcome, images, labels, references, config, rerun):
    """On int8 breaches: name the worst layers (always) and, with `config.parity.fix`, try the remedies.

    Args:
        rerun: re-gates the whole run after a fix (returns a new outcome).

    Returns:
        (the outcome to report, {"debug": {name: worst layers}, "fixes": [...]}) ; both dicts empty without breaches.
    """
    from toolkit.debug import layer_errors, summary

    failing = {
        r.name
        for r in outcome.results
        if not r.passed and r.format == "tflite" and r.variant == Variant.INT8.value and r.source == "float"
    }
    extra = {"debug": {}, "fixes": []}
    if not failing:
        return outcome, extra
    from toolkit.flow import load_run_data, load_run_model, representative_inputs

    model = load_run_model(run, "float")  # under the trust decision the run recorded, as every step
    data = load_run_data(run)
    representative = representative_inputs(
        data, config.export.representative_size, run.classifier, tuple(model.input_shape[1:]), config.train.seed
    )
    artifacts = {a.name: a for a in run.artifacts()}
    for name in sorted(failing):
        try:
            extra["debug"][name] = summary(layer_errors(model, representative))
            worst = extra["debug"][name]["worst_layers"][0]
            log.info("debug %-18s worst layer %s (relative rmse %.3f)", name, worst["node"], worst["relative_rmse"])
        except Exception as error:  # the debugger refuses some graphs; the breach itself is already reported
            extra["debug"][name] = {"error": str(error).splitlines()[0][:200] if str(error) else type(error).__name__}
        if config.parity.fix and name in artifacts:
            extra["fixes"].append(fix_int8(run, artifacts[name], model, data, images, labels, references, config))
    if any(f["fixed"] for f in extra["fixes"]):
        outcome = rerun()
    return outcome, extra
