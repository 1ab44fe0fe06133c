"""Classification metrics shared by training, the gate and the report."""

from __future__ import annotations

import numpy as np


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent."""
    return float(np.mean(np.argmax(probabilities, axis=1) == labels) * 100)
