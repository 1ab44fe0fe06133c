"""Training of the float model: Adam, cross-entropy, LR schedule, early stopping, best checkpoint, augmentation."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from exporters.base import MNIST, Classifier
from toolkit.config import FineTuneConfig, TrainConfig, validation_size
from toolkit.data.datasets import Dataset
from toolkit.errors import InputError
from toolkit.modeling.architectures import build_model


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
    classifier: Classifier,
    shape: tuple[int, ...],
    batch_size: int,
    seed: int,
    augment: bool = False,
    shuffle: bool = True,
    augment_strength: float = 1.0,
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
        augmenter = _augmenter(seed, augment_strength)
        ds = ds.map(lambda a, b: (augmenter(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda a, b: (tf.reshape(a, (-1, *shape)), b))
    # Every worker of a multi-worker run builds the same seeded batches and keeps its share of each, so the
    # workers together take the steps one worker would (the default would shard files, and there are none).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def epoch_callbacks(tensorboard: Path | None) -> list:
    """Callbacks both training and QAT use: the learning rate in the history, TensorBoard logs when asked for."""
    import tf_keras as keras

    class LearningRate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None and "lr" not in logs:
                logs["lr"] = float(keras.backend.get_value(self.model.optimizer.learning_rate))

    callbacks = [LearningRate()]
    if tensorboard is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(tensorboard), histogram_freq=0, profile_batch=0))
    return callbacks


STATE_FILE = "state.json"  # in the checkpoint directory: the last completed epoch and how to go on from it


def _epoch_checkpoint(keras, directory: Path, history: dict[str, list[float]], early_stopping, best: float):
    """A callback that, after every epoch, saves best.h5 if validation loss improved, the whole model with its
    optimizer state, then state.json.

    Every file is written under a temporary name and renamed, and state.json (written last) names the epoch's
    model file, so a kill at any instant leaves state.json pointing at complete checkpoints.
    """
    from toolkit.run import atomic_write_json

    def save(model, name: str, **options) -> None:
        tmp = directory / f".{name}.tmp"
        model.save(tmp, save_format="h5", **options)
        os.replace(tmp, directory / name)

    class EpochCheckpoint(keras.callbacks.Callback):
        best_loss = best

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            if history["val_loss"][-1] < self.best_loss:
                self.best_loss = history["val_loss"][-1]
                save(self.model, "best.h5", include_optimizer=False)
            name = f"epoch-{epoch + 1:03d}.h5"
            save(self.model, name, include_optimizer=True)
            state = {
                "epochs_done": epoch + 1,
                "model": name,
                "history": history,
                "early_stopping": {
                    "best": float(early_stopping.best),
                    "wait": early_stopping.wait,
                    "best_epoch": early_stopping.best_epoch,
                },
                "best_checkpoint": self.best_loss if math.isfinite(self.best_loss) else None,  # strict JSON
            }
            atomic_write_json(directory / STATE_FILE, state)
            for old in directory.glob("epoch-*.h5"):
                if old.name != name:
                    old.unlink(missing_ok=True)

    return EpochCheckpoint()


def _resumable_early_stopping(keras, patience: int, state: dict | None, best_weights):
    """EarlyStopping that, when resuming, starts from the interrupted run's best, wait and best weights."""

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if state is not None:
                self.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
                self.best_weights = best_weights

    return ResumableEarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)


def read_training_state(directory: Path) -> dict | None:
    """The last completed epoch's state.json in a checkpoint directory, or None if no epoch completed."""
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
        if (directory / state["model"]).is_file():
            return state
    except (OSError, ValueError, KeyError, TypeError):
        pass
    raise InputError(f"{path}: unreadable or names a missing checkpoint; train again with a new --out")


ONE_CYCLE_WARMUP = 0.25  # share of the steps spent rising to the peak rate
ONE_CYCLE_START = 25  # the warm-up starts at peak / this
ONE_CYCLE_END = 1e4  # ... and the anneal ends at peak / this


def learning_rate_at(config: TrainConfig, epoch: float) -> float:
    """The learning rate at an epoch (fractional for one-cycle, which changes it every batch).

    exponential: decay by `lr_decay` per epoch; cosine: from the initial rate to 0 over the epochs; one-cycle:
    a linear warm-up from learning_rate / 25 to learning_rate, then a cosine down to learning_rate / 10^4.
    """
    peak = config.learning_rate
    if config.lr_schedule == "one-cycle":
        progress = min(max(epoch / config.epochs, 0.0), 1.0)
        if progress < ONE_CYCLE_WARMUP:
            start = peak / ONE_CYCLE_START
            return start + (peak - start) * progress / ONE_CYCLE_WARMUP
        anneal = (progress - ONE_CYCLE_WARMUP) / (1 - ONE_CYCLE_WARMUP)
        end = peak / ONE_CYCLE_END
        return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * anneal))
    if config.lr_schedule == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
    return peak * config.lr_decay**epoch


def schedule_callback(keras, config: TrainConfig):
    """Sets the optimizer's rate from `learning_rate_at`: per epoch, or per batch for one-cycle.

    Computed from the epoch index Keras passes, so a resumed training picks the schedule up where it stopped.
    """
    if config.lr_schedule != "one-cycle":
        return keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(config, epoch))

    class OneCycle(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            steps = self.params.get("steps") or 1
            rate = learning_rate_at(config, self.epoch + batch / steps)
            keras.backend.set_value(self.model.optimizer.learning_rate, rate)

    return OneCycle()


def train_model(
    data: Dataset,
    config: TrainConfig,
    directory: Path,
    resume: bool = False,
    build: Callable[[], Any] | None = None,
    callbacks: Sequence[Any] = (),
    strategy: Any = None,
    tensorboard: Path | None = None,
    classifier: Classifier = MNIST,
):
    """Train the configured architecture and return (model with the best validation weights, history dict).

    Args:
        data: the training set (a validation split is taken from its end).
        config: architecture and hyper-parameters.
        directory: checkpoints: best.h5 (lowest validation loss so far) and, after every epoch, the whole model
            with its optimizer state and state.json (epochs done, history, early-stopping state).
        resume: continue from the last completed epoch in `directory` (optimizer state, learning-rate schedule,
            early stopping and history carry over); without a completed epoch, start from scratch.
        build: makes the uncompiled model instead of `config.architecture` (the tuner's and ensemble's members).
        callbacks: more Keras callbacks (the tuner's per-epoch report to its pruner).
        strategy: a tf.distribute strategy whose scope builds and compiles the model (multi-worker training).
        tensorboard: a directory for TensorBoard logs, or None.
        classifier: the image size, normalization and classes to train for.
    """
    from exporters.native_log import import_tensorflow

    import_tensorflow()
    import tf_keras as keras

    held_out = validation_size(config, len(data.x_train))
    directory.mkdir(parents=True, exist_ok=True)
    state = read_training_state(directory) if resume else None
    if state is not None:
        model, best_weights, history = _resumed(keras, config, directory, state)
    else:
        keras.utils.set_random_seed(config.seed)
        model, best_weights, history = _compiled(keras, config, build, strategy, classifier), None, {}
    early_stopping = _resumable_early_stopping(keras, config.patience, state and state["early_stopping"], best_weights)
    callbacks = [
        early_stopping,
        schedule_callback(keras, config),
        *callbacks,
        *epoch_callbacks(tensorboard),
        # last, so that it saves the state the others reached at this epoch
        _epoch_checkpoint(keras, directory, history, early_stopping, (state or {}).get("best_checkpoint") or math.inf),
    ]
    done = state["epochs_done"] if state else 0
    if done < config.epochs and not (state is not None and early_stopping_done(state, config.patience)):
        _fit(model, data, config, classifier, held_out, done, callbacks)
    elif best_weights is not None:
        model.set_weights(best_weights)
    if strategy is not None:
        # A plain copy outside the strategy: what follows (evaluation, saving) runs on the chief alone, and the
        # distributed model's predict would wait for the other workers.
        plain = keras.models.clone_model(model)
        plain.set_weights(model.get_weights())
        model = plain
    if config.finish_epochs:
        history = _finish(model, data, config, classifier, held_out, history, tensorboard)
    return model, history


def _resumed(keras, config: TrainConfig, directory: Path, state: dict):
    """The interrupted training's model (with optimizer state), best weights and history."""
    from toolkit.modeling.keras_files import refuse_code

    refuse_code(directory / state["model"], trust=False)  # our own files, but files all the same
    keras.utils.set_random_seed(config.seed + state["epochs_done"])
    model = keras.models.load_model(directory / state["model"], compile=True)
    best_weights = keras.models.load_model(directory / "best.h5", compile=False).get_weights()
    return model, best_weights, state["history"]


def _compiled(keras, config: TrainConfig, build, strategy, classifier: Classifier):
    """A new model (the architecture, or `build()`'s), compiled with Adam and smoothed cross-entropy."""
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = (
            build() if build is not None else build_model(config.architecture, len(classifier.labels), classifier.image)
        )
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
            metrics=["accuracy"],
        )
    return model


def _fit(model, data: Dataset, config: TrainConfig, classifier: Classifier, held_out: int, done: int, callbacks):
    """Epochs `done` .. config.epochs on augmented batches, validated on the held-out end of the training set."""
    x_train, y_train, x_val, y_val = split_validation(data, held_out)
    shape = tuple(model.input_shape[1:])
    augment = dict(augment=config.augment, augment_strength=config.augment_strength)
    model.fit(
        make_dataset(x_train, y_train, classifier, shape, config.batch_size, config.seed + done, **augment),
        validation_data=make_dataset(x_val, y_val, classifier, shape, config.batch_size, config.seed, shuffle=False),
        epochs=config.epochs,
        initial_epoch=done,
        callbacks=callbacks,
        verbose=progress_verbosity(),
    )


def _finish(model, data: Dataset, config: TrainConfig, classifier: Classifier, held_out: int, history, tensorboard):
    """The finishing epochs on plain images at a constant low rate; the history continues with them."""
    finish = FineTuneConfig(
        epochs=config.finish_epochs,
        batch_size=config.batch_size,
        learning_rate=config.finish_learning_rate,
        label_smoothing=config.label_smoothing,
    )
    logs = tensorboard and tensorboard / "finish"
    finished = fine_tune(model, data, finish, held_out, config.seed + config.epochs, classifier, logs)
    return {key: [*values, *finished.get(key, [])] for key, values in history.items()}


def fine_tune(
    model,
    data: Dataset,
    config: FineTuneConfig,
    validation_size: int,
    seed: int,
    classifier: Classifier = MNIST,
    tensorboard: Path | None = None,
) -> dict[str, list[float]]:
    """Fine-tune a trained `model` in place (Adam at a constant low rate, no augmentation); returns its history.

    Every training after the schedule goes this way: the finishing epochs, QAT's fake-quantized copy and an
    ensemble's combined model.
    """
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=classifier.output_kind == "logits", label_smoothing=config.label_smoothing
        ),
        metrics=["accuracy"],
    )
    shape = tuple(model.input_shape[1:])
    x_train, y_train, x_val, y_val = split_validation(data, validation_size)
    history = model.fit(
        make_dataset(x_train, y_train, classifier, shape, config.batch_size, seed),
        validation_data=make_dataset(x_val, y_val, classifier, shape, config.batch_size, seed, shuffle=False),
        epochs=config.epochs,
        callbacks=epoch_callbacks(tensorboard),
        verbose=progress_verbosity(),
    )
    return plain_history(history.history)


def early_stopping_done(state: dict, patience: int) -> bool:
    """Whether the interrupted run had already stopped early (killed between its last epoch and the end)."""
    return state["early_stopping"]["wait"] >= patience and state["epochs_done"] > 1


def plain_history(history: dict) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in history.items()}
