"""Ensembles as one graph: K members (seeds and/or architectures) averaged into a single tf-keras model."""

from __future__ import annotations

from toolkit.config import Architecture
from toolkit.errors import InputError


def member_plan(architectures: list[Architecture], count: int, seed: int) -> list[tuple[Architecture, int]]:
    """(architecture, seed) per member: architectures in turn, seeds counting up from `seed`."""
    if count < 2:
        raise InputError(f"--members {count}: an ensemble needs at least 2 members")
    if not architectures:
        raise InputError("give at least one --arch")
    return [(Architecture(architectures[i % len(architectures)]), seed + i) for i in range(count)]


def combine(members: list, image: tuple[int, ...], name: str = "ensemble"):
    """One functional model: the members' layers side by side on one input of the `image` shape (H, W, C), their
    probabilities averaged.

    Each member's Dense -> BatchNorm pairs are folded first (exact at inference), and its layers are copied as
    `m<i>_...` so names stay unique; flattened this way the graph quantizes and converts like a single model.
    """
    import tf_keras as keras
    from tf_keras import layers

    from toolkit.modeling.qat import fold_dense_batch_norm

    inputs = keras.Input(shape=image, name="image")
    outputs = []
    for i, member in enumerate(members):
        member = fold_dense_batch_norm(member)
        x = inputs
        shape = tuple(member.input_shape[1:])
        if shape != tuple(image):
            x = layers.Reshape(shape, name=f"m{i}_reshape")(x)
        for layer in member.layers:
            copy = layer.__class__.from_config({**layer.get_config(), "name": f"m{i}_{layer.name}"})
            x = copy(x)
            copy.set_weights(layer.get_weights())
        outputs.append(x)
    return keras.Model(inputs, layers.Average(name="probabilities")(outputs), name=name)
