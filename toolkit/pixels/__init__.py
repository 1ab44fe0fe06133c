"""Pixels to model tensors and back: normalization, (de)quantization, softmax, the drawn-digit preprocessing."""
