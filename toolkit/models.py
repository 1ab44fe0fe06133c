"""Architectures by name: the series' dense (3x500), cnn (Conv32-Conv64-Dense128-Dropout) and cnn-bn, and cnn3-bn."""

from __future__ import annotations

from enum import Enum

from exporters.base import ImageSpec
from toolkit.errors import InputError

MNIST_IMAGE = ImageSpec(28, 28, 1)


class Architecture(str, Enum):
    DENSE = "dense"
    CNN = "cnn"
    CNN_BN = "cnn-bn"
    # Three Conv-BatchNorm-ReLU blocks (32, 64, 128 filters), pooling after the first two, dropout 0.25.
    CNN3_BN = "cnn3-bn"


def input_shape(architecture: Architecture, image: ImageSpec = MNIST_IMAGE) -> tuple[int, ...]:
    """The dense baseline takes flattened pixels, the CNNs take the image (H, W, C)."""
    if architecture is Architecture.DENSE:
        return (image.height * image.width * image.channels,)
    return image.shape


def build_model(architecture: Architecture, num_classes: int = 10, image: ImageSpec = MNIST_IMAGE):
    """Build an uncompiled tf-keras model ending in softmax.

    Args:
        architecture: which network of the series.
        num_classes: output classes.
        image: the images it reads (MNIST's 28x28x1 by default).
    """
    architecture = Architecture(architecture)
    # three valid 3x3 convolutions and two poolings leave nothing of a smaller image
    if architecture is Architecture.CNN3_BN and min(image.height, image.width) < 18:
        size = f"{image.height}x{image.width}"
        raise InputError(f"cnn3-bn needs images of at least 18x18 pixels, not {size}: use --arch cnn")
    import tf_keras as keras
    from tf_keras import layers

    stack = [keras.Input(shape=input_shape(architecture, image), name="image")]
    if architecture is Architecture.DENSE:
        stack += [layers.Dense(500, activation="relu") for _ in range(3)]
    elif architecture is Architecture.CNN3_BN:
        # Pooling after the cheap first convolution keeps the wider ones on 13x13 and 5x5 maps, so an epoch costs
        # about what the seed cnn's does; batch norm lets a one-cycle schedule run at a high peak rate.
        # Conv -> BatchNorm -> ReLU is a pattern tfmot folds and quantizes as one op.
        for filters, pool in ((32, True), (64, True), (128, False)):
            stack += [layers.Conv2D(filters, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU()]
            stack += [layers.MaxPooling2D()] if pool else []
        stack += [layers.Flatten(), layers.Dropout(0.25)]
    else:
        stack += [
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
        ]
        if architecture is Architecture.CNN:
            stack += [layers.Dense(128, activation="relu")]
        else:
            # Normalize before the non-linearity, as the series does (bias is redundant before BatchNorm).
            stack += [layers.Dense(128, use_bias=False), layers.BatchNormalization(), layers.ReLU()]
        stack += [layers.Dropout(0.5)]
    stack += [layers.Dense(num_classes, activation="softmax", name="probabilities")]
    return keras.Sequential(stack, name=architecture.value.replace("-", "_"))
