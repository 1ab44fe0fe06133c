"""`--fix`: when an int8 PTQ artifact fails the gate, try remedies in order and keep the first artifact that passes.

1. a larger, class-balanced calibration set; 2. selective quantization, the worst layers (toolkit.fix.debug) kept in
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
from exporters.base import Artifact
from toolkit.data.datasets import Dataset
from toolkit.data.run_data import balanced_inputs
from toolkit.errors import first_line
from toolkit.gate.parity import ParityResult, check_parity
from toolkit.run import Run

log = logging.getLogger("edgekit")
BALANCED_PER_CLASS = 200  # 2,000 calibration images for 10 classes, four times the default 500 drawn at random
DENYLIST_SIZES = (1, 2, 3)


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


def _gate(artifact: Artifact, scratch: Run, data: Dataset, references, config) -> ParityResult:
    litert_only = config.parity.model_copy(update={"runtimes": ["litert"]})
    labels = data.y_test.astype(np.int64)
    return check_parity(scratch, [artifact], data.x_test, labels, references, litert_only).results[0]


def _candidates(model, data: Dataset, config, failing: Artifact, run):
    """(description, callable(dest, run_dir) -> Artifact) in the order they are tried."""
    from exporters import tflite
    from toolkit.fix.debug import layer_errors, selective_int8

    shape = tuple(model.input_shape[1:])
    classifier = failing.classifier
    balanced = balanced_inputs(data, BALANCED_PER_CLASS, classifier, shape, config.train.seed)
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
            from toolkit.modeling.qat import quantize_and_finetune

            validation = validation_size(config.train, len(data.x_train))
            qat_model, _ = quantize_and_finetune(model, data, config.qat, validation, config.train.seed, classifier)
            return calibrate(dest, run_dir, qat_model)

        yield f"quantization-aware fine-tuning ({config.qat.epochs} epoch(s)) on the run's training data", qat


def fix_int8(run: Run, failing: Artifact, model, data: Dataset, references, config) -> dict:
    """Try the remedies for one failing int8 PTQ artifact; on success its files are replaced in the run.

    Returns:
        What was tried (with each candidate's verdict) and, when one passed, what it costs against the original.
    """
    original_dir = run.artifact_dir(failing)
    original_latency = latency_ms(original_dir / failing.main_file, failing, data.x_test)
    tried = []
    for description, make in _candidates(model, data, config, failing, run):
        scratch = run.scratch_dir("fix")
        try:
            artifact = make(Run(scratch, run.manifest).artifact_dir(failing.name), scratch)
        except Exception as error:  # a remedy the converter refuses is skipped, with the reason
            tried.append({"remedy": description, "passed": False, "error": first_line(error)[:200]})
            continue
        result = _gate(artifact, Run(scratch, run.manifest), data, references, config)
        tried.append({"remedy": description, "passed": result.passed, "reasons": result.reasons})
        log.info("fix   %-18s %s: %s", failing.name, description, "pass" if result.passed else "fail")
        if result.passed:
            candidate = Run(scratch, run.manifest).artifact_dir(artifact)
            latency = latency_ms(candidate / artifact.main_file, artifact, data.x_test)
            shutil.rmtree(original_dir)
            shutil.move(candidate, original_dir)
            shutil.rmtree(scratch, ignore_errors=True)
            return {
                "artifact": failing.name,
                "fixed": True,
                "remedy": description,
                "tried": tried,
                "size_bytes": {"before": failing.size_bytes, "after": artifact.size_bytes},
                "latency_ms_per_image": {"before": original_latency, "after": latency, "threads": 1},
            }
        shutil.rmtree(scratch, ignore_errors=True)
    return {"artifact": failing.name, "fixed": False, "tried": tried}
