"""MNIST-style preprocessing of a hand-drawn digit: crop, fit in 20x20, centre by mass in 28x28.

This is the reference implementation; the web demo (JS) and the Android core (Kotlin) implement the same
arithmetic and are tested against golden vectors written from this module (see toolkit/golden.py).
"""

from __future__ import annotations

import math

import numpy as np

SIZE = 28  # output side
BOX = 20  # the digit's longer side after fitting, as in the original MNIST


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


def preprocess_digit(image: np.ndarray) -> np.ndarray:
    """Turn a drawn digit into a model input the way MNIST digits were made.

    Args:
        image: 2-D array, ink bright on a dark background; uint8 (0..255) or float in [0, 1].

    Returns:
        float32 array (28, 28) in [0, 1]: the ink's bounding box fitted into 20x20 keeping its aspect ratio,
        placed so that its centre of mass is at the centre. An image with no ink gives all zeros.
    """
    pixels = np.asarray(image)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {pixels.shape}")
    pixels = pixels.astype(np.float64)
    if np.asarray(image).dtype == np.uint8:
        pixels /= 255.0
    out = np.zeros((SIZE, SIZE), dtype=np.float64)
    rows, cols = np.nonzero(pixels > 0)
    if rows.size == 0:
        return out.astype(np.float32)
    crop = pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    longer = max(height, width)
    # floor(x + 0.5) rather than round(): the same half-up rounding as JS Math.round and Kotlin.
    new_h = max(1, math.floor(height * BOX / longer + 0.5))
    new_w = max(1, math.floor(width * BOX / longer + 0.5))
    fitted = area_weights(height, new_h) @ crop @ area_weights(width, new_w).T
    mass = fitted.sum()
    centre_y = (fitted.sum(axis=1) @ np.arange(new_h)) / mass
    centre_x = (fitted.sum(axis=0) @ np.arange(new_w)) / mass
    # Put the centre of mass on the middle of the 28x28 field (13.5 in pixel-index coordinates).
    top = min(max(math.floor(SIZE / 2 - centre_y), 0), SIZE - new_h)
    left = min(max(math.floor(SIZE / 2 - centre_x), 0), SIZE - new_w)
    out[top : top + new_h, left : left + new_w] = fitted
    return np.clip(out, 0.0, 1.0).astype(np.float32)
