"""Where int8 loses accuracy, worst layers first: TFLite's QuantizationDebugger, and the LiteRT quantizer's SNR."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
from pathlib import Path

import numpy as np

from exporters import Variant
from toolkit.data.run_data import load_run_data, representative_inputs
from toolkit.errors import InputError, first_line
from toolkit.modeling.keras_files import load_run_model
from toolkit.run import Run, atomic_write_json

# Layers are ranked by their own output error (the debugger feeds float and int8 ops the same inputs) relative to the
# typical size of their float output: the median of its non-zero magnitudes. TFLite's guide ranks by rmse / scale,
# which misses the classic failure, one outlier channel stretching the range so every other value rounds to zero
# (then the error is below one, huge, step). Above this relative error a layer is named a suspect.
SUSPECT_RELATIVE_RMSE = 0.1
log = logging.getLogger("edgekit")


@dataclasses.dataclass
class LayerError:
    """One quantized tensor's error against the float model on the debug inputs."""

    node: str  # the tensor name, as QuantizationDebugOptions(denylisted_nodes=...) takes it
    op: str
    scale: float
    rmse: float
    max_abs_error: float
    relative_rmse: float  # rmse / median non-zero |float output|


def _converter(model, representative: np.ndarray):
    import tensorflow as tf

    def generate():
        for sample in representative:
            yield [sample[np.newaxis].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = generate
    return converter, generate


def debugger(model, representative: np.ndarray, denylisted: list[str] | None = None):
    """A QuantizationDebugger over the model's int8 conversion calibrated on `representative` (also its inputs)."""
    import tensorflow as tf

    from exporters.native_log import native_stderr_to_debug_log

    converter, generate = _converter(model, representative)
    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"relative_rmse": _relative_rmse}, denylisted_nodes=denylisted or None
    )
    with native_stderr_to_debug_log():
        return tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=generate, debug_options=options
        )


def _relative_rmse(float_tensors, quant_tensors, scale, zero_point) -> float:
    real = np.concatenate([np.ravel(t) for t in float_tensors]).astype(np.float64)
    quantized = np.concatenate([np.ravel(t) for t in quant_tensors]).astype(np.float64)
    rmse = np.sqrt(np.mean((scale * (quantized - zero_point) - real) ** 2))
    magnitude = np.abs(real[real != 0])
    return float(rmse / np.median(magnitude)) if magnitude.size else 0.0


def layer_errors(model, representative: np.ndarray) -> list[LayerError]:
    """Every quantized layer's error, worst (largest rmse per quantization step) first."""
    from exporters.native_log import native_stderr_to_debug_log

    debug = debugger(model, representative)
    with native_stderr_to_debug_log():
        debug.run()
    text = io.StringIO()
    debug.layer_statistics_dump(text)
    layers = [
        LayerError(
            node=row["tensor_name"],
            op=row["op_name"],
            scale=float(row["scale"]),
            rmse=math.sqrt(max(float(row["mean_squared_error"]), 0.0)),
            max_abs_error=float(row["max_abs_error"]),
            relative_rmse=float(row["relative_rmse"] or 0.0),
        )
        for row in csv.DictReader(io.StringIO(text.getvalue()))
    ]
    return sorted(layers, key=lambda layer: layer.relative_rmse, reverse=True)


def selective_int8(model, representative: np.ndarray, denylisted: list[str]) -> bytes:
    """The int8 conversion with the `denylisted` layers kept in float (float input and output)."""
    from exporters.native_log import native_stderr_to_debug_log

    with native_stderr_to_debug_log():
        return debugger(model, representative, denylisted).get_nondebug_quantized_model()


def summary(layers: list[LayerError], count: int = 5) -> dict:
    """The worst layers as the report records them."""
    return {
        "metric": "rmse / median non-zero |float output| of each layer, given the same inputs",
        "suspect_above": SUSPECT_RELATIVE_RMSE,
        "worst_layers": [
            {
                "node": layer.node,
                "op": layer.op,
                "relative_rmse": round(layer.relative_rmse, 4),
                "rmse": layer.rmse,
                "max_abs_error": layer.max_abs_error,
                "scale": layer.scale,
                "suspect": layer.relative_rmse > SUSPECT_RELATIVE_RMSE,
            }
            for layer in layers[:count]
        ],
    }


def snr_ranking(model, representative: np.ndarray, count: int = 5, samples: int = 64) -> dict:
    """The quantizer's own per-tensor error: its int8 of the model (min/max calibration on `representative`) against
    the float32 file, image by image, as signal-to-noise ratio in dB (lowest first), or its one-line error.

    The quantizer averages the ratio over images, so a few badly clipped images hardly move it; the sensitivity
    ranking of toolkit.fix.sensitivity measures flips instead (docs/quantization.md).
    """
    from exporters import tflite, tflite_quantizer

    try:
        float_file = tflite.convert(model, Variant.FLOAT32)
        quantized = tflite_quantizer.quantize(float_file, "int8", representative)
        ratios = tflite_quantizer.tensor_snr(float_file, quantized, representative[:samples])
    except Exception as error:  # an explanation, not a verdict: say why it is missing
        return {"error": first_line(error)[:200]}
    ranked = sorted(ratios.items(), key=lambda item: item[1])
    return {
        "metric": "SNR in dB of each tensor of the LiteRT quantizer's int8 against float32 (mean ratio over images)",
        "worst_tensors": [
            {"tensor": name, "snr_db": round(10 * math.log10(ratio), 2) if ratio > 0 else None}
            for name, ratio in ranked[:count]
        ],
    }


def worst_layers(model, representative: np.ndarray) -> dict:
    """The summary of the model's worst int8 layers by both measures; each may instead carry its one-line error
    (the debugger refuses some graphs)."""
    snr = snr_ranking(model, representative)
    try:
        found = {**summary(layer_errors(model, representative)), "quantizer_snr": snr}
    except Exception as error:  # the breach itself is already reported; this only explains it
        return {"error": first_line(error)[:200], "quantizer_snr": snr}
    worst = found["worst_layers"][0] if found["worst_layers"] else None
    if worst:
        log.info("debug worst layer %s (relative rmse %.3f)", worst["node"], worst["relative_rmse"])
    return found


def debug_artifact(run_dir: Path, name: str, config) -> dict:
    """Per-layer quantization error of one int8 artifact of a run; written to RUN/debug/NAME.json and returned."""
    run = Run.open(run_dir)
    artifact = run.artifact(name)
    if artifact.format.value != "tflite" or artifact.variant.value != "int8":
        raise InputError(f"{name} is not an int8 TFLite artifact: only those have per-layer quantization to debug")
    model = load_run_model(run, artifact.source)
    data = load_run_data(run)
    shape = tuple(model.input_shape[1:])
    seed = run.recorded_seed(config.train.seed)
    representative = representative_inputs(data, config.export.representative_size, run.classifier, shape, seed)
    result = {"artifact": name, "source": artifact.source, **summary(layer_errors(model, representative))}
    result["quantizer_snr"] = snr_ranking(model, representative)
    atomic_write_json(run.debug_path(name), result)
    return result
