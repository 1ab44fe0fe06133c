"""TensorFlow.js export: a layers model where TF.js can read the Keras config, else a graph model from a SavedModel.

TF.js 4.22's layers deserializer refuses some configs that tensorflowjs writes from tf-keras (SeparableConv2D with
kernel_* fields: tfjs issues 1739, 4839), has no Normalization layer, and cannot read Keras 3 configs (`batch_shape`,
DTypePolicy objects: tfjs issues 8328, 8494). The first is repaired in model.json; for the others the model is
converted from a SavedModel into a graph model, which TF.js runs without the layers deserializer.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from exporters.base import (
    MNIST,
    Artifact,
    Classifier,
    Format,
    Variant,
    finish_artifact,
    is_keras3,
    model_specs,
    save_tf_saved_model,
)

MODEL_FILE = "model.json"
LAYERS_MODEL, GRAPH_MODEL = "layers-model", "graph-model"
# Weight quantization only: TF.js dequantizes the weights when loading, so the arithmetic stays float32.
_QUANTIZATION = {Variant.FLOAT32: None, Variant.FLOAT16: {"float16": "*"}, Variant.UINT8: {"uint8": "*"}}
# Keras layer classes and activations that TF.js 4.22 layers models load with the same meaning (checked in Node
# and Chromium by the test corpus); anything else goes the graph-model way.
TFJS_LAYERS = frozenset(
    "InputLayer Dense Conv2D DepthwiseConv2D SeparableConv2D Conv2DTranspose MaxPooling2D AveragePooling2D "
    "GlobalAveragePooling2D GlobalMaxPooling2D Flatten Reshape Permute Dropout SpatialDropout2D Activation ReLU "
    "LeakyReLU ELU Softmax BatchNormalization LayerNormalization Add Subtract Multiply Average Maximum Minimum "
    "Concatenate ZeroPadding2D Cropping2D UpSampling2D Rescaling".split()
)
TFJS_ACTIVATIONS = frozenset(
    "linear relu relu6 elu selu sigmoid hard_sigmoid tanh softmax softplus softsign swish".split()
)
# Fields tf-keras writes for SeparableConv2D that TF.js rejects as invalid (it has depthwise_/pointwise_ ones).
_SEPARABLE_EXTRA = ("kernel_initializer", "kernel_regularizer", "kernel_constraint")


def _layers(model) -> list:
    """Every layer, nested models' included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found += _layers(layer)
    return found


def graph_model_reason(model) -> str | None:
    """Why `model` cannot be a TF.js layers model (None when it can)."""
    if is_keras3(model):
        return "TF.js cannot read Keras 3 layer configs"
    for layer in _layers(model):
        name = type(layer).__name__
        if name in ("Sequential", "Functional", "Model"):
            continue
        if name not in TFJS_LAYERS:
            return f"TF.js has no {name} layer"
        activation = layer.get_config().get("activation")
        if isinstance(activation, str) and activation not in TFJS_ACTIVATIONS:
            return f"TF.js has no {activation} activation"
    return None


def repair_layers_config(model_json: Path) -> None:
    """Rewrite what tensorflowjs writes from tf-keras and TF.js refuses to read (see the module docstring)."""
    document = json.loads(model_json.read_text())

    def visit(node):
        if isinstance(node, dict):
            if node.get("class_name") == "SeparableConv2D" and isinstance(node.get("config"), dict):
                for key in _SEPARABLE_EXTRA:
                    node["config"].pop(key, None)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document["modelTopology"])
    model_json.write_text(json.dumps(document))


def export(
    model, dest: Path, variant: Variant, *, name: str, source: str, run_dir: Path, classifier: Classifier = MNIST
) -> Artifact:
    """Write `model` as a TF.js model (model.json + weight shards) into `dest`, with its contract.

    Args:
        model: a float tf-keras or Keras 3 model (QAT wrappers have no TF.js kernels).
        dest: the artifact directory to create.
        variant: FLOAT32, FLOAT16 or UINT8 (weight storage).
        name, source, run_dir, classifier: recorded in the contract, with the model type written.
    """
    import tensorflowjs as tfjs

    if variant not in _QUANTIZATION:
        raise ValueError(f"TF.js has no {variant.value} variant")
    dest.mkdir(parents=True)
    if graph_model_reason(model) is None:
        model_type = LAYERS_MODEL
        tfjs.converters.save_keras_model(model, str(dest), quantization_dtype_map=_QUANTIZATION[variant])
        repair_layers_config(dest / MODEL_FILE)
    else:
        model_type = GRAPH_MODEL
        with tempfile.TemporaryDirectory(prefix="edgekit-savedmodel-") as saved:
            save_tf_saved_model(model, Path(saved))
            tfjs.converters.convert_tf_saved_model(saved, str(dest), quantization_dtype_map=_QUANTIZATION[variant])
    model_input, model_output = model_specs(model)
    return finish_artifact(
        dest,
        run_dir,
        name=name,
        format=Format.TFJS,
        variant=variant,
        source=source,
        main_file=MODEL_FILE,
        input=model_input,
        output=model_output,
        classifier=classifier,
        model_type=model_type,
    )
