"""Affine (de)quantization of integer model inputs and outputs as TFLite defines it: real = scale * (q - zero_point)."""

from __future__ import annotations

import numpy as np

_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Map real values to integers; rounds half up (floor(x + 0.5)) so Kotlin and JS can do exactly the same."""
    low, high = _RANGES[dtype]
    q = np.floor(np.asarray(values, dtype=np.float64) / scale + 0.5) + zero_point
    return np.clip(q, low, high).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Map integers back to real values (float32)."""
    return ((np.asarray(values, dtype=np.float64) - zero_point) * scale).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)
