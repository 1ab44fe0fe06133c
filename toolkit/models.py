"""The architectures of the source series, by name: dense (3x500), cnn (Conv32-Conv64-Dense128-Dropout), cnn-bn."""

from __future__ import annotations

from enum import Enum

from exporters.base import ImageSpec

MNIST_IMAGE = ImageSpec(28, 28, 1)


class Architecture(str, Enum):
    DENSE = "dense"
    CNN = "cnn"
    CNN_BN = "cnn-bn"


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
    import tf_keras as keras
    from tf_keras import layers

    architecture = Architecture(architecture)
    stack = [keras.Input(shape=input_shape(architecture, image), name="image")]
    if architecture is Architecture.DENSE:
        stack += [layers.Dense(500, activation="relu") for _ in range(3)]
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
