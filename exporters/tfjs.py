"""TensorFlow.js layers-model export of a float model, with optional float16 or uint8 weight quantization."""

from __future__ import annotations

from pathlib import Path

from exporters.base import Artifact, Format, TensorSpec, Variant, describe_files, write_contract

MODEL_FILE = "model.json"
# Weight quantization only: TF.js dequantizes the weights when loading, so the arithmetic stays float32.
_QUANTIZATION = {Variant.FLOAT32: None, Variant.FLOAT16: {"float16": "*"}, Variant.UINT8: {"uint8": "*"}}


def export(model, dest: Path, variant: Variant, *, name: str, source: str, run_dir: Path,
           output_kind: str = "probabilities") -> Artifact:
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
    artifact = Artifact(
        name=name,
        format=Format.TFJS,
        variant=variant,
        source=source,
        path=dest.relative_to(run_dir).as_posix(),
        main_file=MODEL_FILE,
        input=TensorSpec(shape=[int(d) for d in model.input_shape[1:]], dtype="float32"),
        output=TensorSpec(shape=[int(d) for d in model.output_shape[1:]], dtype="float32"),
        output_kind=output_kind,
        files=describe_files(dest),
    )
    write_contract(artifact, dest)
    return artifact
