"""TensorFlow.js export: a graph model converted from a SavedModel, for inference in Node and browsers.

A graph model rather than a layers model: the converter folds batch normalization into the convolutions and fuses
bias and activation into them, so the default CNN runs in less time than its layers model in TF.js's wasm
backend (docs/performance.md); and TF.js loads it whatever Keras wrote the model (its layers deserializer refuses
Keras 3 configs and some tf-keras ones: tfjs issues 1739, 4839, 8328, 8494).

The converter lets TensorFlow's grappler fuse activations into convolutions and matrix products. With oneDNN on
(TensorFlow's default on x86) that includes activations no TF.js kernel runs, such as hard-swish
(`_FusedHardSwish`: "not yet supported for FusedConv2D in the wasm backend", found by the test corpus). Such a
model is converted again in a child process with oneDNN's rewrites off (TensorFlow reads that switch once, at
start); what TF.js still cannot run is refused rather than shipped.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
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
from exporters.native_log import native_stderr_to_debug_log

MODEL_FILE = "model.json"
GRAPH_MODEL = "graph-model"
# Weight quantization only: TF.js dequantizes the weights when loading, so the arithmetic stays float32.
_QUANTIZATION = {Variant.FLOAT32: None, Variant.FLOAT16: {"float16": "*"}, Variant.UINT8: {"uint8": "*"}}
# Activations TF.js 4.22's wasm backend fuses into a convolution or matrix product (its FusableActivation).
TFJS_FUSABLE = frozenset({"relu", "relu6", "elu", "leakyrelu", "prelu", "sigmoid"})
_CONVERT = (
    "import json, sys; import tensorflowjs as tfjs; "
    "tfjs.converters.convert_tf_saved_model(sys.argv[1], sys.argv[2], quantization_dtype_map=json.loads(sys.argv[3]))"
)


def unrunnable_fusions(model_json: Path) -> list[str]:
    """The fused activations of a graph model that TF.js cannot run, as "node: activation"."""
    found = []
    for node in json.loads(model_json.read_text())["modelTopology"]["node"]:
        fused = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
        activations = [base64.b64decode(op).decode() for op in fused[1:]]
        found += [f"{node['name']}: {a}" for a in activations if a.lower() not in TFJS_FUSABLE]
    return found


def _convert_without_onednn(saved: str, dest: Path, quantization: dict | None) -> None:
    for file in dest.iterdir():
        file.unlink()
    done = subprocess.run(
        [sys.executable, "-c", _CONVERT, saved, str(dest), json.dumps(quantization)],
        env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(f"TF.js conversion without oneDNN failed: {lines[-1] if lines else done.returncode}")


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
    # The converter's grappler pass logs through absl ("devices.cc ... Number of eligible GPUs") whatever
    # TF_CPP_MIN_LOG_LEVEL says: kept for --verbose.
    with tempfile.TemporaryDirectory(prefix="edgekit-savedmodel-") as saved, native_stderr_to_debug_log():
        save_tf_saved_model(model, Path(saved))
        tfjs.converters.convert_tf_saved_model(saved, str(dest), quantization_dtype_map=_QUANTIZATION[variant])
        if unrunnable_fusions(dest / MODEL_FILE):
            _convert_without_onednn(saved, dest, _QUANTIZATION[variant])
            left = unrunnable_fusions(dest / MODEL_FILE)
            if left:
                raise ValueError(f"TF.js has no kernel for the fused activation(s) {', '.join(left)}")
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
