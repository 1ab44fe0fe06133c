"""`export`: every artifact the config asks for, written beside the current set and swapped in only when all
converted; the Keras models' test-set probabilities are kept for the gate."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from exporters import Variant
from exporters.base import Format, is_keras3
from exporters.tflite_quantizer import PatternError
from toolkit.config import Config
from toolkit.data.datasets import Dataset
from toolkit.data.run_data import load_run_data, representative_inputs, representative_pixels
from toolkit.errors import InputError, StepError, first_line
from toolkit.gate import kept
from toolkit.modeling.keras_files import load_run_model
from toolkit.run import Run

log = logging.getLogger("edgekit")


@dataclasses.dataclass(frozen=True)
class ExportJob:
    """One artifact to write: its name, the Keras model it comes from, the exporter and the exporter's options."""

    name: str
    source: str  # "float" or "qat"
    exporter: Callable[..., Any]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


def export_plan(
    config: Config, sources: list[str], representative: np.ndarray, pixels: np.ndarray | None = None
) -> list[ExportJob]:
    """The jobs of every artifact the config asks for, for the run's models (`sources`); the pixels artifacts only
    when given their calibration pictures (`pixels`, RGB 0..255)."""
    from exporters import saved_model, tfjs, tflite

    jobs = []
    if config.export.tflite:
        jobs += [
            ExportJob(f"tflite-{v.value}", "float", tflite.export, {"variant": v})
            for v in (Variant.FLOAT32, Variant.FLOAT16, Variant.DYNAMIC)
        ]
        int8 = {"variant": Variant.INT8, "representative": representative}
        jobs += [ExportJob(f"tflite-int8-{'ptq' if s == 'float' else s}", s, tflite.export, int8) for s in sources]
        if config.export.pixels and pixels is not None:
            jobs += [
                ExportJob("tflite-pixels-float32", "float", tflite.export_pixels, {"variant": Variant.FLOAT32}),
                ExportJob(
                    "tflite-pixels-uint8",
                    "float",
                    tflite.export_pixels,
                    {"variant": Variant.INT8, "calibration": pixels},
                ),
            ]
        jobs += quantizer_jobs(config, representative)
    if config.export.tfjs:  # TF.js has no kernels for QAT's fake-quantization wrappers: float model only
        jobs += [
            ExportJob(f"tfjs-{v.value}", "float", tfjs.export, {"variant": v})
            for v in (Variant.FLOAT32, Variant.FLOAT16, Variant.UINT8)
        ]
    if config.export.saved_model:
        jobs += [ExportJob(f"saved_model-{s}", s, saved_model.export) for s in sources]
    return jobs


QUANTIZER_ARTIFACTS = {
    "int8": ("tflite-int8-aeq", Variant.INT8),
    "int16x8": ("tflite-int16x8", Variant.INT16X8),
    "weights-int8": ("tflite-weights-int8", Variant.WEIGHTS_INT8),
    "weights-int4": ("tflite-weights-int4", Variant.WEIGHTS_INT4),
}
# The quantizer's recipes that a per-layer recipe (--float-layers, --int16-layers) shapes: the static ones.
STATIC_RECIPES = ("int8", "int16x8")


def quantizer_jobs(config: Config, representative: np.ndarray) -> list[ExportJob]:
    """The LiteRT quantizer's artifacts the config asks for, with its per-layer recipe."""
    from exporters import tflite_quantizer

    overrides = [tflite_quantizer.Override(p, "float") for p in config.export.float_layers]
    overrides += [tflite_quantizer.Override(p, "int16") for p in config.export.int16_layers]
    jobs = []
    for recipe in config.export.quantizer:
        name, variant = QUANTIZER_ARTIFACTS[recipe]
        layers = overrides if recipe in STATIC_RECIPES else []
        options = {"variant": variant, "representative": representative, "overrides": layers}
        jobs.append(ExportJob(name, "float", tflite_quantizer.export, options))
    return jobs


def check_formats(config: Config) -> None:
    if not (config.export.tflite or config.export.tfjs or config.export.saved_model):
        raise InputError("nothing to export: every format is switched off")
    if (config.export.float_layers or config.export.int16_layers) and not (
        set(config.export.quantizer) & set(STATIC_RECIPES) and config.export.tflite
    ):
        raise InputError(
            "--float-layers/--int16-layers shape the LiteRT quantizer's artifacts: add --quantizer int8 or int16x8"
        )


def export(run_dir: Path, config: Config) -> Run:
    """Export every artifact of the run's models (float; QAT when present) and write their contracts.

    All artifacts are written to a staging directory first and replace the previous set only when every
    conversion succeeded, so a failed export never leaves a set that looks complete.
    """
    check_formats(config)
    run = Run.open(run_dir)
    run.require_finished("train", "import", "qat")
    run.clear_staging()
    data = load_run_data(run)
    models = {"float": load_run_model(run, "float")}
    if run.has_model("qat"):
        models["qat"] = load_run_model(run, "qat")
    shape = tuple(models["float"].inputs[0].shape[1:])
    seed = run.recorded_seed(config.train.seed)
    representative = representative_inputs(data, config.export.representative_size, run.classifier, shape, seed)
    pixels = None
    if config.export.tflite and config.export.pixels:
        if is_keras3(models["float"]):  # the RGB wrapper is built of tf-keras layers
            log.info("no pixels artifacts: they are made from tf-keras models, this one is Keras 3")
        else:
            pixels = representative_pixels(data, config.export.representative_size, run.classifier, seed)
    jobs = export_plan(config, list(models), representative, pixels)
    run.start("export")
    start = time.perf_counter()
    exported = _write_all(run, jobs, models, config.export.metadata)
    _keep_references(run, models, data)
    run.forget_verdict()  # the old report and kept outputs were about the files just replaced
    run.record(
        "export",
        {
            "config": config.to_dict()["export"],
            "seconds": round(time.perf_counter() - start, 1),
            "artifacts": {a.name: a.size_bytes for a in exported},
        },
    )
    return run


def _write_all(run: Run, jobs: list[ExportJob], models: dict, metadata: bool = True) -> list:
    """Write every job's artifact into staging (with TFLite Metadata when asked), then swap the whole set in;
    nothing changes if one fails."""
    staging = run.staging()
    exported = []
    try:
        for job in jobs:
            try:
                artifact = job.exporter(
                    models[job.source],
                    staging.artifact_dir(job.name),
                    name=job.name,
                    source=job.source,
                    run_dir=staging.path,
                    classifier=run.classifier,
                    **job.options,
                )
            except PatternError as error:  # a per-layer recipe naming no layer of this model
                raise InputError(f"[export] float_layers/int16_layers: {error}") from None
            except Exception as error:  # the converters raise many types; say which artifact failed and why
                raise StepError(f"exporting {job.name} failed: {first_line(error)}") from error
            exported.append(artifact)
            log.info("exported %-18s %8.1f KB", job.name, artifact.size_bytes / 1024)
        if metadata:
            exported = _with_metadata(run, staging, exported)
    except BaseException:
        shutil.rmtree(staging.path, ignore_errors=True)
        raise
    run.commit_artifacts(staging)
    return exported


def _with_metadata(run: Run, staging: Run, exported: list) -> list:
    """The artifacts with TFLite Metadata in every .tflite (as they are where it cannot be written here)."""
    from toolkit.web import mediapipe_env

    tflite = [a for a in exported if a.format is Format.TFLITE]
    by_name = {a.name: a for a in mediapipe_env.embed(run, [(staging.artifact_dir(a), a) for a in tflite])}
    return [by_name.get(a.name, a) for a in exported]


def _keep_references(run: Run, models: dict, data: Dataset) -> None:
    """The Keras models' test-set probabilities, computed while the models are loaded, for the gate to reuse."""
    from toolkit.runtimes.keras import KerasPredictor

    kept.store(run, {s: KerasPredictor(m, run.classifier).predict(data.x_test) for s, m in models.items()})
