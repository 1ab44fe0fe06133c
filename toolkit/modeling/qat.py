"""Quantization-aware training: wrap the float model with tfmot's quantize_model (an ensemble's graph layer by layer)
and fine-tune it briefly."""

from __future__ import annotations

from exporters.base import MNIST, Classifier
from toolkit.config import QATConfig
from toolkit.data.datasets import Dataset
from toolkit.errors import InputError
from toolkit.modeling.keras_files import output_only_config, quantize_scope
from toolkit.modeling.training import fine_tune


def fold_dense_batch_norm(model):
    """A copy of a Sequential model with each Dense -> BatchNormalization pair folded into one Dense layer.

    In inference mode the batch norm is an affine map per unit, so the fold is exact. tfmot leaves a
    Dense -> BatchNorm pair that the TFLite converter cannot turn into integer ops: converted without calibration
    it keeps float ops, and calibrated it loses the network (near-chance accuracy on MNIST). Folded first, the
    pair quantizes like any Dense layer. Models that are not Sequential, or have no such pair, are returned as is.
    """
    import numpy as np
    import tf_keras as keras

    layers = list(getattr(model, "layers", []))
    pairs = [
        i
        for i in range(len(layers) - 1)
        if isinstance(layers[i], keras.layers.Dense)
        and isinstance(layers[i + 1], keras.layers.BatchNormalization)
        and layers[i].get_config()["activation"] == "linear"
    ]
    if not isinstance(model, keras.Sequential) or not pairs:
        return model
    folded, skip = [keras.Input(model.input_shape[1:])], set()
    weights = {}
    for i, layer in enumerate(layers):
        if i in skip:
            continue
        if i in pairs:
            norm = layers[i + 1]
            gamma, beta, mean, variance = norm.get_weights()
            factor = gamma / np.sqrt(variance + norm.epsilon)
            kernel, *bias = layer.get_weights()
            bias = bias[0] if bias else np.zeros_like(mean)
            config = {**layer.get_config(), "use_bias": True}
            dense = keras.layers.Dense.from_config(config)
            weights[dense.name] = [kernel * factor, (bias - mean) * factor + beta]
            folded.append(dense)
            skip.add(i + 1)
        else:
            clone = layer.__class__.from_config(layer.get_config())
            weights[clone.name] = layer.get_weights()
            folded.append(clone)
    result = keras.Sequential(folded, name=model.name)
    for layer in result.layers:
        layer.set_weights(weights[layer.name])
    return result


def quantize_and_finetune(
    float_model,
    data: Dataset,
    config: QATConfig,
    validation_size: int,
    seed: int,
    classifier: Classifier = MNIST,
    tensorboard=None,
):
    """Return (QAT model, history): fake-quantized copy of `float_model`, fine-tuned on the training split.

    The float model is left unchanged. Raises InputError if a layer has no QAT support in tfmot.
    """
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    keras.utils.set_random_seed(seed)  # the quantizers' initial values
    try:
        if is_ensemble(float_model):
            qat_model = quantize_ensemble(float_model)
        else:
            qat_model = tfmot.quantization.keras.quantize_model(fold_dense_batch_norm(float_model))
    except (ValueError, RuntimeError) as error:
        raise InputError(f"the model cannot be quantization-aware trained: {error}") from None
    return qat_model, fine_tune(qat_model, data, config, validation_size, seed, classifier, tensorboard)


def is_ensemble(model) -> bool:
    from tf_keras import layers

    return any(isinstance(layer, layers.Average) for layer in model.layers)


def quantize_ensemble(model):
    """A QAT copy of a combined ensemble: every member layer as tfmot quantizes it, the average's output only."""
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    q = tfmot.quantization.keras

    def annotate(layer):
        if isinstance(layer, keras.layers.Average):
            return q.quantize_annotate_layer(layer, quantize_config=output_only_config()())
        return layer if isinstance(layer, keras.layers.InputLayer) else q.quantize_annotate_layer(layer)

    annotated = keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    with quantize_scope():
        return q.quantize_apply(annotated)
