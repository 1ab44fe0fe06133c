"""Which ops int8 hurts most, measured: each op alone at int8 in an otherwise int16x8 model, top-1 flips counted.

Per-tensor error (SNR, the debugger's RMSE) misses what the gate sees: an int8 logits or softmax output whose one
step flips near-tied classes ranks low there and first here (docs/quantization.md). Only training images are used.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exporters import tflite_quantizer
from exporters.tflite_quantizer import Override
from toolkit.pixels.tensors import dequantize, quantize

# Ops that only move or reshape values: int8 there costs nothing the ops around them do not already show.
_NOT_RANKED = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})


@dataclasses.dataclass
class OpSensitivity:
    """What int8 activations at one op cost against the float model, all other ops at int16."""

    op: str  # "OP_TYPE:first output tensor"
    flips: int  # images whose top-1 class differs from the float model's
    output_error: float  # mean |output - float output|, breaks ties

    @property
    def tensor(self) -> str:
        return self.op.split(":", 1)[1]

    def to_dict(self) -> dict:
        return {"op": self.op, "flips": self.flips, "output_error": round(self.output_error, 6)}


def outputs(tflite: bytes, inputs: np.ndarray, batch: int = 250) -> np.ndarray:
    """The model's dequantized outputs on model-shaped float inputs (integer inputs quantized first)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite, num_threads=1)
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results, size = [], 0
    for start in range(0, len(inputs), batch):
        chunk = np.asarray(inputs[start : start + batch], np.float32)
        if len(chunk) != size:
            interpreter.resize_tensor_input(source["index"], chunk.shape, strict=True)
            interpreter.allocate_tensors()
            size = len(chunk)
        scale, zero_point = source["quantization"]
        if np.dtype(source["dtype"]).kind == "i":
            chunk = quantize(chunk, scale, zero_point, np.dtype(source["dtype"]).name)
        interpreter.set_tensor(source["index"], chunk)
        interpreter.invoke()
        raw = interpreter.get_tensor(target["index"])
        scale, zero_point = target["quantization"]
        values = dequantize(raw, scale, zero_point) if np.dtype(target["dtype"]).kind == "i" else raw
        results.append(np.asarray(values, np.float64).reshape(len(chunk), -1))
    return np.concatenate(results)


def ranking(float_tflite: bytes, calibration: np.ndarray, inputs: np.ndarray) -> list[OpSensitivity]:
    """Every op that carries activations, most harmful at int8 first (one quantization and one pass per op).

    Args:
        float_tflite: the converter's float32 file.
        calibration: what calibrates activation ranges (as for the artifact).
        inputs: training images, model-shaped and normalized, on which flips are counted.
    """
    reference = outputs(float_tflite, inputs)
    ops = [op for op in tflite_quantizer.activation_ops(float_tflite) if op["op"] not in _NOT_RANKED]
    rows, refused = [], None
    for op in ops:
        here = [Override.tensor(op["outputs"][0], "int8")]
        try:
            mixed = tflite_quantizer.quantize(float_tflite, "int16x8", calibration, here)
        except Exception as error:  # an op the quantizer cannot give int8 here is not a candidate
            refused = error
            continue
        got = outputs(mixed, inputs)
        rows.append(
            OpSensitivity(
                op=f"{op['op']}:{op['outputs'][0]}",
                flips=int(np.sum(got.argmax(1) != reference.argmax(1))),
                output_error=float(np.mean(np.abs(got - reference))),
            )
        )
    if not rows and refused is not None:
        raise refused
    return sorted(rows, key=lambda row: (-row.flips, -row.output_error))
