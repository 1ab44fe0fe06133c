"""Architectures by name: the series' dense (3x500), cnn (Conv32-Conv64-Dense128-Dropout) and cnn-bn; cnn3-bn with its
slim and wide variants."""

from __future__ import annotations

from exporters.base import ImageSpec
from toolkit.config import Architecture
from toolkit.errors import InputError

MNIST_IMAGE = ImageSpec(28, 28, 1)


# Filters of the three blocks of the cnn3 family.
CNN3_FILTERS = {
    Architecture.CNN3_BN: (32, 64, 128),
    Architecture.CNN3_BN_SLIM: (24, 48, 96),
    Architecture.CNN3_BN_WIDE: (48, 96, 192),
}


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
    if architecture in CNN3_FILTERS and min(image.height, image.width) < 18:
        size = f"{image.height}x{image.width}"
        raise InputError(f"{architecture.value} needs images of at least 18x18 pixels, not {size}: use --arch cnn")
    import tf_keras as keras
    from tf_keras import layers

    stack = [keras.Input(shape=input_shape(architecture, image), name="image")]
    if architecture is Architecture.DENSE:
        stack += [layers.Dense(500, activation="relu") for _ in range(3)]
    elif architecture in CNN3_FILTERS:
        # Pooling after the cheap first convolution keeps the wider ones on 13x13 and 5x5 maps, so an epoch costs
        # about what the seed cnn's does; batch norm lets a one-cycle schedule run at a high peak rate.
        # Conv -> BatchNorm -> ReLU is a pattern tfmot folds and quantizes as one op.
        for filters, pool in zip(CNN3_FILTERS[architecture], (True, True, False), strict=True):
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
