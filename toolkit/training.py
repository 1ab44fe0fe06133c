"""Training of the float model: Adam, cross-entropy, LR decay, early stopping, best checkpoint, augmentation."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.config import TrainConfig
from toolkit.data import Dataset, to_inputs
from toolkit.errors import InputError
from toolkit.models import build_model


def split_validation(data: Dataset, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out the last `size` training images for validation; the test set stays untouched."""
    if not 0 < size < len(data.x_train):
        raise InputError(f"validation size {size} must be between 1 and the {len(data.x_train) - 1} training images")
    return data.x_train[:-size], data.y_train[:-size], data.x_train[-size:], data.y_train[-size:]


def progress_verbosity() -> int:
    """A live progress bar on a terminal, one line per epoch in logs."""
    return 1 if sys.stdout.isatty() else 2


def _augmenter(seed: int, strength: float = 1.0):
    from tf_keras import Sequential, layers

    # Small, label-preserving distortions of handwriting: a few degrees, a few pixels, a little scale
    # (strength 1: 10 degrees, 10 % shift, 10 % zoom; the tuner searches other strengths).
    return Sequential(
        [
            layers.RandomRotation(strength * 10 / 360, fill_mode="constant", seed=seed),
            layers.RandomTranslation(strength * 0.1, strength * 0.1, fill_mode="constant", seed=seed + 1),
            layers.RandomZoom(strength * 0.1, fill_mode="constant", seed=seed + 2),
        ]
    )


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    shape: tuple[int, ...],
    batch_size: int,
    seed: int,
    augment: bool = False,
    shuffle: bool = True,
    augment_strength: float = 1.0,
):
    """A tf.data pipeline of (inputs, one-hot labels); augmentation works on 28x28x1 images, then reshapes."""
    import tensorflow as tf

    images = to_inputs(x, (28, 28, 1))
    labels = tf.one_hot(y.astype(np.int32), 10)
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        augmenter = _augmenter(seed, augment_strength)
        ds = ds.map(lambda a, b: (augmenter(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda a, b: (tf.reshape(a, (-1, *shape)), b))
    # Every worker of a multi-worker run builds the same seeded batches and keeps its share of each, so the
    # workers together take the steps one worker would (the default would shard files, and there are none).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    """The learning rate of an epoch: exponential decay by `lr_decay`, or a cosine from the initial rate to 0."""
    if config.lr_schedule == "cosine":
        return config.learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
    return config.learning_rate * config.lr_decay**epoch


def train_model(
    data: Dataset,
    config: TrainConfig,
    checkpoint: Path,
    build: Callable[[], Any] | None = None,
    callbacks: Sequence[Any] = (),
    strategy: Any = None,
):
    """Train the configured architecture and return (model with the best validation weights, history dict).

    Args:
        data: the training set (a validation split is taken from its end).
        config: architecture and hyper-parameters.
        checkpoint: where the best-so-far model (lowest validation loss) is written during training.
        build: makes the uncompiled model instead of `config.architecture` (the tuner's and ensemble's members).
        callbacks: more Keras callbacks (the tuner's per-epoch report to its pruner).
        strategy: a tf.distribute strategy whose scope builds and compiles the model (multi-worker training).
    """
    import tf_keras as keras

    keras.utils.set_random_seed(config.seed)
    x_train, y_train, x_val, y_val = split_validation(data, config.validation_size)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build() if build is not None else build_model(config.architecture)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
    shape = tuple(model.input_shape[1:])
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_loss", save_best_only=True),
        keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(config, epoch)),
        *callbacks,
    ]
    history = model.fit(
        make_dataset(
            x_train,
            y_train,
            shape,
            config.batch_size,
            config.seed,
            augment=config.augment,
            augment_strength=config.augment_strength,
        ),
        validation_data=make_dataset(x_val, y_val, shape, config.batch_size, config.seed, shuffle=False),
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=progress_verbosity(),
    )
    if strategy is not None:
        # A plain copy outside the strategy: what follows (evaluation, saving) runs on the chief alone, and the
        # distributed model's predict would wait for the other workers.
        plain = keras.models.clone_model(model)
        plain.set_weights(model.get_weights())
        model = plain
    return model, plain_history(history.history)


def plain_history(history: dict) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in history.items()}
