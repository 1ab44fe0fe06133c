"""Quantization-aware training: wrap the float model with tfmot's quantize_model and fine-tune it briefly."""

from __future__ import annotations

from pathlib import Path

from toolkit.config import QATConfig
from toolkit.data import Dataset
from toolkit.errors import InputError
from toolkit.training import make_dataset, plain_history, progress_verbosity, split_validation


def quantize_and_finetune(float_model, data: Dataset, config: QATConfig, validation_size: int, seed: int,
                          output_kind: str = "probabilities"):
    """Return (QAT model, history): fake-quantized copy of `float_model`, fine-tuned on the training split.

    The float model is left unchanged. Raises InputError if a layer has no QAT support in tfmot.
    """
    import tf_keras as keras
    import tensorflow_model_optimization as tfmot

    keras.utils.set_random_seed(seed)
    try:
        qat_model = tfmot.quantization.keras.quantize_model(float_model)
    except (ValueError, RuntimeError) as error:
        raise InputError(f"the model cannot be quantization-aware trained: {error}") from None
    qat_model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(from_logits=output_kind == "logits"),
        metrics=["accuracy"],
    )
    shape = tuple(float_model.input_shape[1:])
    x_train, y_train, x_val, y_val = split_validation(data, validation_size)
    history = qat_model.fit(
        make_dataset(x_train, y_train, shape, config.batch_size, seed),
        validation_data=make_dataset(x_val, y_val, shape, config.batch_size, seed, shuffle=False),
        epochs=config.epochs,
        verbose=progress_verbosity(),
    )
    return qat_model, plain_history(history.history)


def load_qat_model(path: Path):
    """Load a saved QAT model (its quantize wrappers need tfmot's custom-object scope)."""
    import tf_keras as keras
    import tensorflow_model_optimization as tfmot

    with tfmot.quantization.keras.quantize_scope():
        return keras.models.load_model(path)
