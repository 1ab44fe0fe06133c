"""MNIST-style preprocessing of a hand-drawn digit: crop, fit in 20/28 of the field, centre by mass, normalize.

This is the reference implementation; the web demo (JS) and the Android core (Kotlin) implement the same
arithmetic and are tested against golden vectors written from this module (see toolkit/pixels/golden.py). The field is
28x28 for MNIST and any H x W for other models; the ink's bounding box is fitted into round(20/28 of each side).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SIZE = 28  # MNIST's field side
BOX = 20  # the digit's longer side after fitting in MNIST: 20 of 28


def area_weights(src: int, dst: int) -> np.ndarray:
    """Weights (dst, src) of box resampling: each output cell averages the source cells it overlaps."""
    weights = np.zeros((dst, src), dtype=np.float64)
    step = src / dst
    for i in range(dst):
        start, end = i * step, (i + 1) * step
        for j in range(math.floor(start), min(src, math.ceil(end))):
            overlap = min(end, j + 1) - max(start, j)
            if overlap > 0:
                weights[i, j] = overlap / step
    return weights


def box_side(side: int) -> int:
    """The share of a field side that the ink may fill: 20 of 28 as in MNIST, rounded half up."""
    return max(1, math.floor(side * BOX / SIZE + 0.5))


def fitted_size(crop_h: int, crop_w: int, box_h: int, box_w: int) -> tuple[int, int]:
    """The crop's size once fitted into box_h x box_w keeping its aspect ratio (integer comparison, no rounding)."""
    # floor(x + 0.5) rather than round(): the same half-up rounding as the JS and Kotlin ports.
    if box_h * crop_w <= box_w * crop_h:  # box_h / crop_h <= box_w / crop_w: the height is the binding side
        return box_h, max(1, math.floor(crop_w * box_h / crop_h + 0.5))
    return max(1, math.floor(crop_h * box_w / crop_w + 0.5)), box_w


def preprocess_digit(image: np.ndarray, height: int = SIZE, width: int = SIZE) -> np.ndarray:
    """Turn a drawn digit into a grey image of the model's size the way MNIST digits were made.

    Args:
        image: 2-D array, ink bright on a dark background; uint8 (0..255) or float in [0, 1].
        height, width: the field the model takes (28x28 for MNIST).

    Returns:
        float32 array (height, width) in [0, 1]: the ink's bounding box fitted into 20/28 of the field keeping its
        aspect ratio, placed so that its centre of mass is at the centre. An image with no ink gives all zeros.
    """
    pixels = np.asarray(image)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {pixels.shape}")
    pixels = pixels.astype(np.float64)
    if np.asarray(image).dtype == np.uint8:
        pixels /= 255.0
    out = np.zeros((height, width), dtype=np.float64)
    rows, cols = np.nonzero(pixels > 0)
    if rows.size == 0:
        return out.astype(np.float32)
    crop = pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    crop_h, crop_w = crop.shape
    new_h, new_w = fitted_size(crop_h, crop_w, box_side(height), box_side(width))
    fitted = area_weights(crop_h, new_h) @ crop @ area_weights(crop_w, new_w).T
    mass = fitted.sum()
    centre_y = (fitted.sum(axis=1) @ np.arange(new_h)) / mass
    centre_x = (fitted.sum(axis=0) @ np.arange(new_w)) / mass
    # Put the centre of mass on the middle of the field (13.5 in pixel-index coordinates for 28).
    top = min(max(math.floor(height / 2 - centre_y), 0), height - new_h)
    left = min(max(math.floor(width / 2 - centre_x), 0), width - new_w)
    out[top : top + new_h, left : left + new_w] = fitted
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def to_model_values(grey: np.ndarray, channels: int, scale: Sequence[float], offset: Sequence[float]) -> np.ndarray:
    """A preprocessed grey image ([0, 1]) as the model's values, (H, W, channels): the contract's normalization.

    A grey digit is replicated into every channel of a colour model. For pixel p = 255 * grey of channel c the model
    value is p * scale[c] + offset[c] (one scale or offset applies to every channel).
    """
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (channels,))
    offset = np.broadcast_to(np.asarray(offset, dtype=np.float64), (channels,))
    # 255 * scale first: exactly 1.0 for the unit normalization, so [0, 1] inputs pass unchanged.
    values = np.asarray(grey, dtype=np.float64)[..., None] * (255.0 * scale) + offset
    return values.astype(np.float32)
