"""`--fix`: when an int8 PTQ artifact fails the gate, try remedies in order of cost and keep the first that passes.

1. a larger, class-balanced calibration set; 2. int16 activations on the 1-3 ops where int8 hurts most (measured by
toolkit.fix.sensitivity; the file stays fully integer); 3. int16 activations on the whole model (int16x8: integer,
but XNNPACK runs no int16 op, so it is slow on CPUs); 4. float islands, the most sensitive ops kept in float, then the
worst layers by TFLite's debugger (toolkit.fix.debug); 5. quantization-aware fine-tuning, when the run has training
data. Steps 2-4 go through the LiteRT quantizer (exporters/tflite_quantizer.py). Each candidate is gated in LiteRT
on the full test set like any artifact; what was tried, the winning recipe, and what the kept one costs in size and
latency go to the report (docs/quantization.md).
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
from toolkit.data.run_data import balanced_inputs, representative_inputs
from toolkit.errors import first_line
from toolkit.gate.parity import ParityResult, check_parity
from toolkit.run import Run

log = logging.getLogger("edgekit")
BALANCED_PER_CLASS = 200  # 2,000 calibration images for 10 classes, four times the default 500 drawn at random
DENYLIST_SIZES = (1, 2, 3)
MIXED_SIZES = (1, 2, 3)  # int16 or float on the k most sensitive ops
RANKING_IMAGES = 1000  # training images on which the sensitivity ranking counts flips
SLOW_INT16 = "XNNPACK runs no int16 op: on CPUs this file runs on reference kernels, many times slower than int8"


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


def _ranked(float_file: bytes, calibration: np.ndarray, balanced: np.ndarray) -> list[str] | str:
    """The ops most harmful at int8 (names), or why they could not be ranked."""
    from toolkit.fix.sensitivity import ranking

    step = max(1, len(balanced) // RANKING_IMAGES)
    try:
        ranked = ranking(float_file, calibration, balanced[::step][:RANKING_IMAGES])
    except Exception as error:  # the quantizer refuses some graphs: the converter's remedies still run
        return first_line(error)[:200]
    log.info("fix   ops most sensitive to int8: %s", ", ".join(f"{r.op} ({r.flips})" for r in ranked[:3]))
    return [r.op for r in ranked]


def _refused(reason: str):
    def make(dest, run_dir):
        raise ValueError(reason)

    return make


def _quantizer_candidates(model, calibration: np.ndarray, balanced: np.ndarray, where: dict):
    """int16 on the most sensitive ops, int16x8 whole, float on the most sensitive ops: the LiteRT quantizer's steps."""
    from exporters import tflite, tflite_quantizer
    from exporters.tflite_quantizer import Override

    float_file = tflite.convert(model, Variant.FLOAT32)
    ranked = _ranked(float_file, calibration, balanced)
    if isinstance(ranked, str):
        yield "int16 activations on the ops most sensitive to int8", _refused(f"no sensitivity ranking: {ranked}")
    else:
        ranked = ranked[: max(MIXED_SIZES)]

    def mixed(precision: str, count: int, variant: Variant = Variant.INT8):
        overrides = [Override.tensor(op.split(":", 1)[1], precision) for op in ranked[:count]]
        recipe = tflite_quantizer.RECIPES[variant]

        def make(dest, run_dir):
            flatbuffer = tflite_quantizer.quantize(float_file, recipe, calibration, overrides)
            return tflite_quantizer.write(flatbuffer, dest, variant, run_dir=run_dir, overrides=overrides, **where)

        return make

    for count in MIXED_SIZES[: len(ranked) if isinstance(ranked, list) else 0]:
        yield f"int16 activations on {', '.join(ranked[:count])} (fully integer)", mixed("int16", count)
    yield f"int16x8, int16 activations on the whole model ({SLOW_INT16})", mixed("int16", 0, Variant.INT16X8)
    for count in MIXED_SIZES[: len(ranked) if isinstance(ranked, list) else 0]:
        yield f"float islands: {', '.join(ranked[:count])} kept in float", mixed("float", count)


def _candidates(model, data: Dataset, config, failing: Artifact, run):
    """(description, callable(dest, run_dir) -> Artifact) in the order they are tried."""
    from exporters import tflite
    from toolkit.fix.debug import layer_errors, selective_int8

    shape = tuple(model.input_shape[1:])
    classifier = failing.classifier
    seed = run.recorded_seed(config.train.seed)
    balanced = balanced_inputs(data, BALANCED_PER_CLASS, classifier, shape, config.train.seed)
    where = dict(name=failing.name, source="float", classifier=classifier)

    def calibrate(dest, run_dir, model=model):
        return tflite.export(model, dest, Variant.INT8, run_dir=run_dir, representative=balanced, **where)

    yield f"calibration on {len(balanced)} class-balanced training images", calibrate
    calibration = representative_inputs(data, config.export.representative_size, classifier, shape, seed)
    yield from _quantizer_candidates(model, calibration, balanced, where)
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


def _verdict(result: ParityResult) -> str:
    """pass, fail, or inconclusive: nothing failed, but the test set is too small to show a drop the size of the
    margin. The ladder keeps an inconclusive candidate too: the float artifacts of such a run are no better off, and
    the gate run afterwards reports the run as inconclusive, never as passed (docs/quantization.md)."""
    if result.passed:
        return "pass"
    return "inconclusive" if result.inconclusive and not result.reasons else "fail"


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
        verdict = _verdict(result)
        tried.append({"remedy": description, "passed": result.passed, "verdict": verdict, "reasons": result.reasons})
        if result.inconclusive:
            tried[-1]["inconclusive"] = result.inconclusive
        log.info("fix   %-18s %s: %s", failing.name, description, verdict)
        if verdict != "fail":
            candidate = Run(scratch, run.manifest).artifact_dir(artifact)
            if config.export.metadata:  # as export writes every .tflite: the kept file carries it too
                artifact = _with_metadata(run, candidate, artifact)
            latency = latency_ms(candidate / artifact.main_file, artifact, data.x_test)
            shutil.rmtree(original_dir)
            shutil.move(candidate, original_dir)
            shutil.rmtree(scratch, ignore_errors=True)
            return {
                "artifact": failing.name,
                "fixed": True,
                "remedy": description,
                "recipe": _recipe(artifact, original_dir / artifact.main_file),
                "tried": tried,
                "size_bytes": {"before": failing.size_bytes, "after": artifact.size_bytes},
                "latency_ms_per_image": {"before": original_latency, "after": latency, "threads": 1},
            }
        shutil.rmtree(scratch, ignore_errors=True)
    return {"artifact": failing.name, "fixed": False, "tried": tried}


def _with_metadata(run: Run, directory: Path, artifact: Artifact) -> Artifact:
    """The kept candidate with TFLite Metadata in its file (as it is where it cannot be written here)."""
    from toolkit.web import mediapipe_env

    return mediapipe_env.embed(run, [(directory, artifact)])[0]


def _recipe(artifact: Artifact, path: Path) -> dict:
    """What the kept file is: its variant, its backend's recipe, whether an integer-only accelerator can run it."""
    from exporters.tflite_quantizer import float_ops, is_fully_integer

    flatbuffer = path.read_bytes()
    recipe = {"variant": artifact.variant.value, **(artifact.quantization or {})}
    recipe.update(fully_integer=is_fully_integer(flatbuffer), float_ops=float_ops(flatbuffer))
    if artifact.variant is Variant.INT16X8:
        recipe["speed"] = SLOW_INT16
    return recipe
