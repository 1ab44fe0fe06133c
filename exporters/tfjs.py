"""TensorFlow.js layers-model export of a float model, with optional float16 or uint8 weight quantization."""

from __future__ import annotations

from pathlib import Path

from exporters.base import Artifact, Format, Variant, finish_artifact, keras_spec

MODEL_FILE = "model.json"
# Weight quantization only: TF.js dequantizes the weights when loading, so the arithmetic stays float32.
_QUANTIZATION = {Variant.FLOAT32: None, Variant.FLOAT16: {"float16": "*"}, Variant.UINT8: {"uint8": "*"}}


def export(
    model, dest: Path, variant: Variant, *, name: str, source: str, run_dir: Path, output_kind: str = "probabilities"
) -> Artifact:
    """Write `model` as a TF.js layers model (model.json + weight shards) into `dest`, with its contract.

    Args:
        model: a float tf-keras model (QAT wrappers have no TF.js kernels).
        dest: the artifact directory to create.
        variant: FLOAT32, FLOAT16 or UINT8 (weight storage).
        name, source, run_dir, output_kind: recorded in the contract.
    """
    import tensorflowjs as tfjs

    if variant not in _QUANTIZATION:
        raise ValueError(f"TF.js has no {variant.value} variant")
    dest.mkdir(parents=True)
    tfjs.converters.save_keras_model(model, str(dest), quantization_dtype_map=_QUANTIZATION[variant])
    return finish_artifact(
        dest,
        run_dir,
        name=name,
        format=Format.TFJS,
        variant=variant,
        source=source,
        main_file=MODEL_FILE,
        input=keras_spec(model.input_shape),
        output=keras_spec(model.output_shape),
        output_kind=output_kind,
    )
