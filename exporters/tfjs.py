"""TensorFlow.js export: a graph model converted from a SavedModel, for inference in Node and browsers.

A graph model rather than a layers model: the converter folds batch normalization into the convolutions and fuses
bias and activation into them, so the default CNN runs in 0.63x the time of its layers model in TF.js's wasm
backend (4.5 s vs 7.0 s for the 10k test images in Node); and TF.js loads it whatever Keras wrote the model
(its layers deserializer refuses Keras 3 configs and some tf-keras ones: tfjs issues 1739, 4839, 8328, 8494).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from exporters.base import (
    MNIST,
    Artifact,
    Classifier,
    Format,
    Variant,
    finish_artifact,
    model_specs,
    save_tf_saved_model,
)

MODEL_FILE = "model.json"
GRAPH_MODEL = "graph-model"
# Weight quantization only: TF.js dequantizes the weights when loading, so the arithmetic stays float32.
_QUANTIZATION = {Variant.FLOAT32: None, Variant.FLOAT16: {"float16": "*"}, Variant.UINT8: {"uint8": "*"}}


def export(
    model, dest: Path, variant: Variant, *, name: str, source: str, run_dir: Path, classifier: Classifier = MNIST
) -> Artifact:
    """Write `model` as a TF.js graph model (model.json + weight shards) into `dest`, with its contract.

    Args:
        model: a float tf-keras or Keras 3 model (QAT wrappers have no TF.js kernels).
        dest: the artifact directory to create.
        variant: FLOAT32, FLOAT16 or UINT8 (weight storage).
        name, source, run_dir, classifier: recorded in the contract.
    """
    import tensorflowjs as tfjs

    if variant not in _QUANTIZATION:
        raise ValueError(f"TF.js has no {variant.value} variant")
    dest.mkdir(parents=True)
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
        model_type=GRAPH_MODEL,
    )
