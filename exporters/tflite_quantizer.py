"""TFLite quantization through the LiteRT quantizer (ai-edge-quantizer): int8, int16x8 and per-op precision.

The second backend beside the converter's post-training quantization (exporters/tflite.py): it quantizes the
converter's float32 .tflite, always calibrated on the global min/max of each activation (as the converter does;
the quantizer's own moving average clips ranges, docs/quantization.md), and can give chosen ops int16 activations
or keep them in float. Full-integer recipes have integer input and output (int16 where the edge op is int16).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from exporters.base import MNIST, Artifact, Classifier, Variant
from exporters.native_log import native_stderr_to_debug_log

BACKEND = "ai-edge-quantizer"
RECIPES = {Variant.INT8: "int8", Variant.INT16X8: "int16x8"}
PRECISIONS = ("float", "int16", "int8")
# int32 shape arithmetic of a dynamic-batch Reshape: not a float computation even in a fully integer model.
SHAPE_OPS = frozenset({"SHAPE", "STRIDED_SLICE", "PACK", "GATHER", "CONCATENATION"})
_CALIBRATION_BATCH = 100


class PatternError(ValueError):
    """A per-layer pattern that selects no op of the model: bad input, said before anything is written."""


@dataclasses.dataclass(frozen=True)
class Override:
    """Ops whose scope matches `regex` get `precision`: "float" (kept float, QUANTIZE/DEQUANTIZE around it), "int16"
    (int16 activations, int8 weights) or "int8". An op's scope is its output tensor names, each followed by ";"
    (re.search), so a layer's name matches its ops. Later overrides win."""

    regex: str
    precision: str

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r} (known: {', '.join(PRECISIONS)})")
        try:
            re.compile(self.regex)
        except re.error as error:
            raise ValueError(f"layer pattern {self.regex!r} is not a regular expression: {error}") from None

    @classmethod
    def tensor(cls, name: str, precision: str) -> Override:
        """Exactly the op whose first output tensor is `name`."""
        return cls("^" + re.escape(name) + ";", precision)

    def to_dict(self) -> dict[str, str]:
        return {"layers": self.regex, "precision": self.precision}

    @classmethod
    def from_dict(cls, data: dict) -> Override:
        return cls(data["layers"], data["precision"])


def matching_ops(float_tflite: bytes, pattern: str) -> list[str]:
    """The ops a layer pattern selects, as "OP:first output tensor": it is searched in the op's output tensor names
    (each followed by ";", as the quantizer's scopes) and in "OP:" before them, so a Keras layer name, a tensor name
    or an op type all work."""
    found = []
    for op in activation_ops(float_tflite):
        scope = "".join(name + ";" for name in op["outputs"])
        if re.search(pattern, scope) or re.search(pattern, f"{op['op']}:{scope}"):
            found.append(f"{op['op']}:{op['outputs'][0]}")
    return found


def _shape_arithmetic(op: dict) -> bool:
    return op["op"] in SHAPE_OPS and all(d == "int32" for d in op["output_dtypes"])


def activation_ops(tflite: bytes) -> list[dict]:
    """The ops that compute activations (not int32 shape arithmetic), in graph order (see op_table)."""
    return [op for op in op_table(tflite) if op["outputs"] and not _shape_arithmetic(op)]


def resolve(float_tflite: bytes, overrides: Sequence[Override]) -> list[Override]:
    """Each override narrowed to exactly the ops it selects (the quantizer itself sees tensor names only).

    Raises:
        PatternError: a pattern that selects no op (a typo would otherwise quantize as if it were not there).
    """
    exact = []
    for override in overrides:
        ops = matching_ops(float_tflite, override.regex)
        if not ops:
            known = ", ".join(op["op"] + ":" + op["outputs"][0] for op in activation_ops(float_tflite))
            raise PatternError(f"layer pattern {override.regex!r} matches no op of the model (its ops: {known})")
        exact += [Override.tensor(op.split(":", 1)[1], override.precision) for op in ops]
    return exact


def _quantizer(float_tflite: bytes, recipe: str, overrides: Sequence[Override]):
    from ai_edge_quantizer import qtyping, quantizer
    from ai_edge_quantizer import recipe as recipes
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    base = {"int8": recipes.static_wi8_ai8, "int16x8": recipes.static_wi8_ai16}[recipe]()
    q = quantizer.Quantizer(bytearray(float_tflite), base)
    every = qtyping.TFLOperationName.ALL_SUPPORTED
    for override in overrides:
        if override.precision == "float":
            q.update_quantization_recipe(override.regex, every, algorithm_key=AlgorithmName.NO_QUANTIZE)
        else:
            bits = 16 if override.precision == "int16" else 8
            q.add_static_config(override.regex, every, activation_num_bits=bits, weight_num_bits=8)
    return q


def _signature(float_tflite: bytes) -> tuple[str, str]:
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_content=float_tflite).get_signature_list()
    if len(signatures) != 1 or len(next(iter(signatures.values()))["inputs"]) != 1:
        raise ValueError(f"the quantizer needs one signature with one input, the model has {signatures}")
    key, tensors = next(iter(signatures.items()))
    return key, tensors["inputs"][0]


def _ranges(q, float_tflite: bytes, calibration: np.ndarray) -> dict:
    """Each activation's global min and max over `calibration` (the quantizer's default would smooth them)."""
    from ai_edge_quantizer import calibrator
    from ai_edge_quantizer.utils import qsv_utils

    key, name = _signature(float_tflite)
    inputs = np.asarray(calibration, np.float32)
    batches = [{name: inputs[i : i + _CALIBRATION_BATCH]} for i in range(0, len(inputs), _CALIBRATION_BATCH)]
    calib = calibrator.Calibrator(float_tflite, num_threads=1, qsv_update_func=qsv_utils.min_max_update)
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar has no switch
        calib.calibrate({key: batches}, q._recipe_manager)
    return calib.get_model_qsvs()


def quantize(float_tflite: bytes, recipe: str, calibration: np.ndarray, overrides: Sequence[Override] = ()) -> bytes:
    """Quantize a float32 .tflite with the quantizer.

    Args:
        float_tflite: the converter's float32 file.
        recipe: "int8" (int8 activations and weights) or "int16x8" (int16 activations, int8 weights).
        calibration: model-shaped float inputs, normalized as the model reads them.
        overrides: per-op precision after the recipe.

    Returns:
        The quantized .tflite file.
    """
    if calibration is None or not len(calibration):
        raise ValueError("the quantizer's static recipes need calibration inputs")
    q = _quantizer(float_tflite, recipe, resolve(float_tflite, overrides))
    with native_stderr_to_debug_log():
        ranges = _ranges(q, float_tflite, calibration)
        return bytes(q.quantize(ranges, enable_progress_report=False).quantized_model)


def export(
    model,
    dest: Path,
    variant: Variant,
    *,
    name: str,
    source: str,
    run_dir: Path,
    classifier: Classifier = MNIST,
    representative: np.ndarray | None = None,
    overrides: Sequence[Override] = (),
) -> Artifact:
    """Convert a Keras model to float32, quantize it with the quantizer and write it with its contract.

    Args:
        variant: INT8 or INT16X8 (the whole model's activations; `overrides` change chosen ops).
        representative: model-shaped float inputs that calibrate activation ranges.
        overrides: per-op precision, recorded in the contract with the backend.
    """
    if variant not in RECIPES:
        raise ValueError(f"the quantizer backend makes {', '.join(v.value for v in RECIPES)}, not {variant.value}")
    from exporters import tflite

    flatbuffer = quantize(tflite.convert(model, Variant.FLOAT32), RECIPES[variant], representative, overrides)
    return write(
        flatbuffer, dest, variant, name=name, source=source, run_dir=run_dir, classifier=classifier, overrides=overrides
    )


def write(
    flatbuffer: bytes,
    dest: Path,
    variant: Variant,
    *,
    name: str,
    source: str,
    run_dir: Path,
    classifier: Classifier,
    overrides: Sequence[Override] = (),
) -> Artifact:
    """Write a quantizer-made .tflite into `dest`; its contract says which backend and recipe made it."""
    from exporters import tflite

    recipe = {
        "backend": BACKEND,
        "recipe": RECIPES[variant],
        "calibration": "min/max",
        "overrides": [o.to_dict() for o in overrides],
        "float_ops": float_ops(flatbuffer),
        "fully_integer": is_fully_integer(flatbuffer),
    }
    return tflite.write(
        flatbuffer, dest, variant, name=name, source=source, run_dir=run_dir, classifier=classifier, recipe=recipe
    )


def tensor_snr(float_tflite: bytes, quantized: bytes, inputs: np.ndarray) -> dict[str, float]:
    """The quantizer's validation: {tensor: signal-to-noise ratio (linear)} of every activation tensor that both
    files share, each image run alone through both and the ratio averaged over images."""
    from ai_edge_quantizer import model_validator
    from ai_edge_quantizer.utils.validation_utils import ValidationErrorMetric

    key, name = _signature(float_tflite)
    images = [{name: np.asarray(inputs[i : i + 1], np.float32)} for i in range(len(inputs))]
    with native_stderr_to_debug_log(), contextlib.redirect_stderr(io.StringIO()):
        result = model_validator.compare_model(
            float_tflite, quantized, {key: images}, [ValidationErrorMetric.SNR], use_xnnpack=True, num_threads=1
        )
    tensors = result.get_signature_comparison_result(key)
    found = {**tensors.intermediate_tensors, **tensors.output_tensors}
    return {tensor: float(metrics["snr"]) for tensor, metrics in found.items()}


def op_table(tflite: bytes) -> list[dict]:
    """Every op before delegation: name, output and input tensor names and dtypes."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}

    def described(indices):
        return [tensors[i]["name"] for i in indices if i >= 0], [
            np.dtype(tensors[i]["dtype"]).name for i in indices if i >= 0
        ]

    table = []
    for op in interpreter._get_ops_details():
        outputs, output_dtypes = described(op["outputs"])
        inputs, input_dtypes = described(op["inputs"])
        table.append(
            {"op": op["op_name"], "outputs": outputs, "output_dtypes": output_dtypes}
            | {"inputs": inputs, "input_dtypes": input_dtypes}
        )
    return table


def float_ops(tflite: bytes) -> list[str]:
    """The ops that compute in float: a float32 output or a QUANTIZE from float. Shape arithmetic and a DEQUANTIZE
    read only by SHAPE (the quantizer puts one there; only the shape is used) do not count."""
    table = op_table(tflite)
    readers: dict[str, set[str]] = {}
    for op in table:
        for tensor in op["inputs"]:
            readers.setdefault(tensor, set()).add(op["op"])
    found = []
    for op in table:
        if _shape_arithmetic(op):
            continue
        if op["op"] == "DEQUANTIZE" and readers.get(op["outputs"][0], set()) <= {"SHAPE"}:
            continue
        if "float32" in op["output_dtypes"] or (op["op"] == "QUANTIZE" and "float32" in op["input_dtypes"]):
            found.append(f"{op['op']}:{op['outputs'][0]}")
    return found


def is_fully_integer(tflite: bytes) -> bool:
    """Integer input and output and no op computing in float: what an integer-only accelerator can run."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite)
    edges = [*interpreter.get_input_details(), *interpreter.get_output_details()]
    integer_edges = all(np.dtype(d["dtype"]).kind == "i" and d["quantization"][0] for d in edges)
    return integer_edges and not float_ops(tflite)
