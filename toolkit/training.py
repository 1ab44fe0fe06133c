"""Training of the float model: Adam, cross-entropy, LR decay, early stopping, best checkpoint, augmentation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from exporters.base import MNIST, Classifier
from toolkit.config import TrainConfig
from toolkit.data import Dataset
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


def _augmenter(seed: int):
    from tf_keras import Sequential, layers

    # Small, label-preserving distortions of handwriting: a few degrees, a few pixels, a little scale.
    return Sequential(
        [
            layers.RandomRotation(10 / 360, fill_mode="constant", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed + 1),
            layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
        ]
    )


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    classifier: Classifier,
    shape: tuple[int, ...],
    batch_size: int,
    seed: int,
    augment: bool = False,
    shuffle: bool = True,
):
    """A tf.data pipeline of (normalized inputs, one-hot labels); augmentation works on (H, W, C), then reshapes."""
    import tensorflow as tf

    images = classifier.normalization.apply(np.asarray(x).reshape((len(x), *classifier.image.shape)))
    labels = tf.one_hot(y.astype(np.int32), len(classifier.labels))
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        augmenter = _augmenter(seed)
        ds = ds.map(lambda a, b: (augmenter(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda a, b: (tf.reshape(a, (-1, *shape)), b))
    return ds.prefetch(tf.data.AUTOTUNE)


def train_model(data: Dataset, config: TrainConfig, checkpoint: Path, classifier: Classifier = MNIST):
    """Train the configured architecture and return (model with the best validation weights, history dict).

    Args:
        data: the training set (a validation split is taken from its end).
        config: architecture and hyper-parameters.
        checkpoint: where the best-so-far model (lowest validation loss) is written during training.
        classifier: the image size, normalization and classes to train for.
    """
    import tf_keras as keras

    keras.utils.set_random_seed(config.seed)
    x_train, y_train, x_val, y_val = split_validation(data, config.validation_size)
    model = build_model(config.architecture, len(classifier.labels), classifier.image)
    shape = tuple(model.input_shape[1:])
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_loss", save_best_only=True),
        keras.callbacks.LearningRateScheduler(lambda epoch: config.learning_rate * config.lr_decay**epoch),
    ]
    history = model.fit(
        make_dataset(x_train, y_train, classifier, shape, config.batch_size, config.seed, augment=config.augment),
        validation_data=make_dataset(x_val, y_val, classifier, shape, config.batch_size, config.seed, shuffle=False),
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=progress_verbosity(),
    )
    return model, plain_history(history.history)


def plain_history(history: dict) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in history.items()}
