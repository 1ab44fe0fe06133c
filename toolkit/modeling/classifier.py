"""A user's image classifier against the data: image shape, classes, and whether it returns logits or
probabilities."""

from __future__ import annotations

import numpy as np

from exporters.base import Classifier, ImageSpec, Normalization, default_labels, model_specs
from toolkit.errors import InputError
from toolkit.pixels.tensors import to_model_input


def image_input(shape: tuple, image: ImageSpec) -> bool:
    """Whether a model input shape (batch dropped) holds `image`: (H, W) for one channel, (H, W, C) or (H*W*C,)."""
    if len(shape) == 1:
        return shape[0] == image.height * image.width * image.channels
    if len(shape) == 2:
        return image.channels == 1 and shape == (image.height, image.width)
    return shape == image.shape


def check_classifier(model, sample: np.ndarray, image: ImageSpec, normalization: Normalization, labels: list[str]):
    """Check `model` classifies the data's images and return its Classifier (with its output kind).

    Args:
        model: a tf-keras or Keras 3 model with one input and one output.
        sample: a few raw images of the data set (uint8) to probe the outputs with.
        image: the data's image size; normalization: the declared one; labels: the data's class names.

    Raises:
        InputError: the input does not hold the data's images, the output is not (K,) with K >= 2 and at least
            as many classes as the data has, or the normalization does not fit the channels.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InputError(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; expected 1 and 1")
    model_input, model_output = model_specs(model)
    shape = tuple(model_input.shape)
    if not image_input(shape, image):
        raise InputError(
            f"model input {shape} does not hold the data's {image.height}x{image.width}x{image.channels} images; "
            f"expected ({image.height}, {image.width}, {image.channels}), "
            + (f"({image.height}, {image.width}) or " if image.channels == 1 else "")
            + f"({image.height * image.width * image.channels},)"
        )
    if len(model_output.shape) != 1 or model_output.shape[0] < 2:
        raise InputError(f"model output {tuple(model_output.shape)} is not (K,) class scores with K >= 2")
    classes = model_output.shape[0]
    if classes < len(labels):
        raise InputError(f"the model has {classes} outputs but the data has {len(labels)} classes")
    try:
        normalization.check_channels(image.channels)
    except ValueError as error:
        raise InputError(str(error)) from None
    names = tuple(labels) + tuple(default_labels(classes))[len(labels) :]
    classifier = Classifier(image, normalization, "probabilities", names)
    outputs = np.asarray(model.predict(to_model_input(sample, classifier, model_input), verbose=0))
    broken = int(np.sum(~np.isfinite(outputs).all(axis=1)))
    if broken:
        raise InputError(f"the model's outputs are NaN or infinite on {broken} of {len(outputs)} sample images")
    is_distribution = (outputs >= 0).all() and (outputs <= 1).all() and np.allclose(outputs.sum(1), 1, atol=1e-3)
    return Classifier(image, normalization, "probabilities" if is_distribution else "logits", classifier.labels)
