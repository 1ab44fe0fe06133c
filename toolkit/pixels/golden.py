"""Golden vectors written by the Python reference, against which the JS and Kotlin ports are tested."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from toolkit.pixels.digit import preprocess_digit, to_model_values
from toolkit.pixels.tensors import dequantize, quantize, softmax


def _stroke_image(height: int, width: int, points: list[tuple[float, float]], radius: float) -> np.ndarray:
    """A polyline drawn with a round pen, anti-aliased over one pixel, as a canvas would draw it (uint8)."""
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    distance = np.full((height, width), np.inf)
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:], strict=True):
        dy, dx = y1 - y0, x1 - x0
        length2 = dy * dy + dx * dx or 1.0
        t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / length2, 0.0, 1.0)
        distance = np.minimum(distance, np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx)))
    return np.round(255 * np.clip(radius + 0.5 - distance, 0.0, 1.0)).astype(np.uint8)


def preprocess_cases() -> list[dict]:
    """Drawn-digit cases covering the branches of preprocess_digit: shapes, aspect ratios, off-centre ink, empty."""
    rng = np.random.default_rng(7)
    images = {
        "one_vertical_bar": _stroke_image(280, 280, [(40, 150), (240, 140)], 9),
        "seven": _stroke_image(280, 280, [(60, 60), (60, 210), (240, 110)], 10),
        "zero_ring": _stroke_image(
            200, 200, [(40 + 60 * (1 - np.cos(a)), 100 + 45 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 40)], 8
        ),
        "wide_dash_top_left": _stroke_image(120, 300, [(20, 10), (22, 120)], 4),
        "single_pixel": np.pad(np.array([[200]], dtype=np.uint8), ((5, 9), (3, 11))),
        "noise_blob": (rng.random((50, 40)) > 0.8).astype(np.uint8) * rng.integers(1, 256, (50, 40), dtype=np.uint8),
        "empty": np.zeros((64, 64), dtype=np.uint8),
    }
    return [
        {
            "name": name,
            "height": int(img.shape[0]),
            "width": int(img.shape[1]),
            "pixels": img.ravel().tolist(),
            "expected": preprocess_digit(img).ravel().tolist(),
        }
        for name, img in images.items()
    ]


# Normalizations as contract v2 states them: model value = pixel (0..255) * scale[c] + offset[c].
_MEAN, _STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
NORMALIZATIONS = {
    "unit": {"kind": "unit", "scale": [1 / 255], "offset": [0.0]},
    "symmetric": {"kind": "symmetric", "scale": [2 / 255], "offset": [-1.0]},
    "raw": {"kind": "raw", "scale": [1.0], "offset": [0.0]},
    "mean_std": {"kind": "mean_std", "scale": (1 / (255 * _STD)).tolist(), "offset": (-_MEAN / _STD).tolist()},
}
# drawing -> (height, width, channels, normalization): square and non-square fields, grey and colour models.
TARGETS = {
    "seven": (32, 32, 3, "mean_std"),
    "wide_dash_top_left": (20, 36, 1, "symmetric"),
    "one_vertical_bar": (48, 64, 1, "raw"),
    "zero_ring": (96, 96, 3, "unit"),
    "empty": (32, 32, 3, "mean_std"),
}


def target_cases() -> list[dict]:
    """Drawings preprocessed for other fields than 28x28 and turned into model values (channels, normalization)."""
    cases = []
    for case in preprocess_cases():
        if case["name"] not in TARGETS:
            continue
        height, width, channels, kind = TARGETS[case["name"]]
        image = np.array(case["pixels"], dtype=np.uint8).reshape(case["height"], case["width"])
        grey = preprocess_digit(image, height, width)
        norm = NORMALIZATIONS[kind]
        values = to_model_values(grey, channels, norm["scale"], norm["offset"])
        cases.append(
            {
                **{k: case[k] for k in ("name", "height", "width", "pixels")},
                "image": {"height": height, "width": width, "channels": channels},
                "normalization": norm,
                "expected_grey": grey.ravel().tolist(),
                "expected": values.ravel().tolist(),
            }
        )
    return cases


def quantization_cases(
    scale_in: float, zero_point_in: int, scale_out: float, zero_point_out: int, dtype: str = "int8"
) -> dict:
    """Input quantization and output dequantization (+ softmax for logits) for one set of integer parameters."""
    low, high = (-128, 128) if dtype == "int8" else (0, 256)
    rng = np.random.default_rng(11)
    image = preprocess_cases()[1]["expected"]
    inputs = [image, np.linspace(0.0, 1.0, 784).tolist()]
    outputs = rng.integers(low, high, (3, 10)).tolist()
    return {
        "input": {"scale": scale_in, "zero_point": zero_point_in, "dtype": dtype},
        "output": {"scale": scale_out, "zero_point": zero_point_out, "dtype": dtype},
        "quantize": [
            {"values": v, "expected": quantize(np.array(v), scale_in, zero_point_in, dtype).tolist()} for v in inputs
        ],
        "dequantize": [
            {
                "values": q,
                "expected": dequantize(np.array(q), scale_out, zero_point_out).tolist(),
                "expected_softmax": softmax(dequantize(np.array(q), scale_out, zero_point_out)).tolist(),
            }
            for q in outputs
        ],
    }


def write_golden_vectors(dest: Path, contract: dict | None = None) -> Path:
    """Write golden.json into `dest`; integer parameters come from an integer artifact's contract when given."""
    if contract is None:  # the parameters the converter picks for MNIST-range inputs and softmax outputs
        params = (1 / 255, -128, 1 / 256, -128, "int8")
    else:
        params = (
            contract["input"]["scale"],
            contract["input"]["zero_point"],
            contract["output"]["scale"],
            contract["output"]["zero_point"],
            contract["input"]["dtype"],
        )
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "golden.json"
    path.write_text(
        json.dumps(
            {
                "preprocess": preprocess_cases(),
                "targets": target_cases(),
                "quantization": quantization_cases(*params),
            }
        )
    )
    return path
