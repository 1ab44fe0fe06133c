"""The Artifact record and its model contract (contract.json), which the web demo and the Android app read."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any

CONTRACT_FILE = "contract.json"
CONTRACT_VERSION = 2
NORMALIZATION_KINDS = ("unit", "symmetric", "raw", "mean_std")


class Format(str, Enum):
    """Target file format of an artifact."""

    TFLITE = "tflite"
    TFJS = "tfjs"
    SAVED_MODEL = "saved_model"


class Variant(str, Enum):
    """Numeric variant of an artifact: how its weights (and, for int8, its arithmetic) are stored."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    DYNAMIC = "dynamic"  # int8 weights, float activations
    INT8 = "int8"  # full integer: int8 weights, activations, input and output
    UINT8 = "uint8"  # TF.js weight quantization to 8 bits


@dataclasses.dataclass
class TensorSpec:
    """One input or output tensor. `shape` excludes the batch dimension, which is always first and free."""

    shape: list[int]
    dtype: str
    scale: float | None = None  # set only for integer tensors: real = scale * (q - zero_point)
    zero_point: int | None = None


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """The picture a model's input holds, whatever the input tensor's shape: height x width x channels (1 or 3)."""

    height: int
    width: int
    channels: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


@dataclasses.dataclass(frozen=True)
class Normalization:
    """How pixels 0..255 become model values: value = pixel * scale[c] + offset[c] (one entry, or one per channel).

    `mean` and `std` (in [0, 1] units) are kept for kind "mean_std" so people can read what was declared;
    `decided` says how the convention was chosen (declared, stated by the model, measured, default), for people.
    """

    kind: str = "unit"
    scale: tuple[float, ...] = (1 / 255,)
    offset: tuple[float, ...] = (0.0,)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    decided: dict[str, Any] | None = dataclasses.field(default=None, compare=False, hash=False, repr=False)

    @classmethod
    def declare(
        cls, kind: str = "unit", mean: list[float] | None = None, std: list[float] | None = None
    ) -> Normalization:
        """unit: [0, 1]; symmetric: [-1, 1]; raw: 0..255; mean_std: (pixel / 255 - mean) / std per channel.

        Raises:
            ValueError: an unknown kind, mean/std missing for mean_std (or given for another kind), a std <= 0,
                or mean and std of different lengths.
        """
        if kind not in NORMALIZATION_KINDS:
            raise ValueError(f"unknown normalization '{kind}' (known: {', '.join(NORMALIZATION_KINDS)})")
        if kind != "mean_std":
            if mean or std:
                raise ValueError(f"--mean/--std go with normalization mean_std, not {kind}")
            scale, offset = {"unit": (1 / 255, 0.0), "symmetric": (2 / 255, -1.0), "raw": (1.0, 0.0)}[kind]
            return cls(kind, (scale,), (offset,))
        if not mean or not std or len(mean) != len(std):
            raise ValueError("normalization mean_std needs --mean and --std with one value each (or one per channel)")
        if any(s <= 0 for s in std):
            raise ValueError(f"--std must be positive, got {list(std)}")
        return cls(
            kind,
            tuple(1 / (255 * s) for s in std),
            tuple(-m / s for m, s in zip(mean, std, strict=True)),
            tuple(float(m) for m in mean),
            tuple(float(s) for s in std),
        )

    def check_channels(self, channels: int) -> None:
        """Raises ValueError when per-channel values do not fit an image of `channels` channels."""
        if len(self.scale) not in (1, channels):
            raise ValueError(f"normalization has {len(self.scale)} values per channel, the image has {channels}")

    def apply(self, pixels):
        """float32 model values of pixels (..., C) in 0..255 (uint8, or float for resampled images)."""
        import numpy as np

        values = np.asarray(pixels, dtype=np.float32)
        return values * np.asarray(self.scale, np.float32) + np.asarray(self.offset, np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "scale": list(self.scale),
            "offset": list(self.offset),
            "mean": None if self.mean is None else list(self.mean),
            "std": None if self.std is None else list(self.std),
            **({"decided": self.decided} if self.decided else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        def floats(key):
            return None if data.get(key) is None else tuple(float(v) for v in data[key])

        return cls(data["kind"], floats("scale"), floats("offset"), floats("mean"), floats("std"), data.get("decided"))


def default_labels(count: int) -> list[str]:
    return [str(k) for k in range(count)]


@dataclasses.dataclass(frozen=True)
class Classifier:
    """What every artifact of one model shares: the image it reads, its normalization, its output kind and labels."""

    image: ImageSpec = ImageSpec(28, 28, 1)
    normalization: Normalization = Normalization()
    output_kind: str = "probabilities"  # or "logits": consumers apply softmax
    labels: tuple[str, ...] = tuple(default_labels(10))

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": dataclasses.asdict(self.image),
            "normalization": self.normalization.to_dict(),
            "output_kind": self.output_kind,
            "labels": list(self.labels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Classifier:
        return cls(
            ImageSpec(**data["image"]),
            Normalization.from_dict(data["normalization"]),
            data["output_kind"],
            tuple(data["labels"]),
        )


MNIST = Classifier()


@dataclasses.dataclass
class Artifact:
    """A converted model on disk: a directory holding the model file(s) and contract.json.

    `source` names the Keras model it was converted from ("float" or "qat"); `classifier` what the model reads
    and returns; `model_type` how TF.js loads it ("layers-model" or "graph-model"; None for other formats).
    """

    name: str
    format: Format
    variant: Variant
    source: str
    path: str  # the artifact directory, relative to the run directory
    main_file: str  # the file a runtime loads, relative to the artifact directory
    input: TensorSpec
    output: TensorSpec
    classifier: Classifier = MNIST
    model_type: str | None = None
    files: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # name -> {sha256, size_bytes}

    @property
    def size_bytes(self) -> int:
        return sum(f["size_bytes"] for f in self.files.values())

    @property
    def output_kind(self) -> str:
        return self.classifier.output_kind

    @property
    def sha256(self) -> str:
        return self.files[self.main_file]["sha256"]

    @property
    def digest(self) -> str:
        """One sha256 over every file's name, hash and size: what a verdict about these exact files is keyed by."""
        listing = json.dumps(sorted((n, f["sha256"], f["size_bytes"]) for n, f in self.files.items()))
        return hashlib.sha256(listing.encode()).hexdigest()

    def to_contract(self) -> dict[str, Any]:
        return {
            "edgekit_contract": CONTRACT_VERSION,
            "name": self.name,
            "format": self.format.value,
            "variant": self.variant.value,
            "source": self.source,
            "path": self.path,
            "main_file": self.main_file,
            "model_type": self.model_type,
            "input": dataclasses.asdict(self.input),
            "output": dataclasses.asdict(self.output),
            **self.classifier.to_dict(),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "files": self.files,
        }

    @classmethod
    def from_contract(cls, data: dict[str, Any]) -> Artifact:
        """Raises ValueError for a contract of another version, KeyError/TypeError for a malformed one."""
        if not isinstance(data, dict):
            raise TypeError(f"a contract is a JSON object, not {type(data).__name__}")
        if data.get("edgekit_contract") != CONTRACT_VERSION:
            raise ValueError(
                f"contract version {data.get('edgekit_contract')}, expected {CONTRACT_VERSION}: export the run again"
            )
        return cls(
            name=data["name"],
            format=Format(data["format"]),
            variant=Variant(data["variant"]),
            source=data["source"],
            path=data["path"],
            main_file=data["main_file"],
            input=TensorSpec(**data["input"]),
            output=TensorSpec(**data["output"]),
            classifier=Classifier.from_dict(data),
            model_type=data["model_type"],
            files=data["files"],
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_files(directory: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file under an artifact directory (except its contract)."""
    return {
        p.relative_to(directory).as_posix(): {"sha256": sha256_file(p), "size_bytes": p.stat().st_size}
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != CONTRACT_FILE
    }


def write_contract(artifact: Artifact, directory: Path) -> None:
    (directory / CONTRACT_FILE).write_text(json.dumps(artifact.to_contract(), indent=2) + "\n")


def finish_artifact(dest: Path, run_dir: Path, **fields: Any) -> Artifact:
    """Describe the files an exporter wrote into `dest` (hashes, sizes), write the contract, return the Artifact."""
    artifact = Artifact(path=dest.relative_to(run_dir).as_posix(), files=describe_files(dest), **fields)
    write_contract(artifact, dest)
    return artifact


def keras_spec(shape: tuple) -> TensorSpec:
    """A float32 tensor spec from a Keras shape (batch dimension dropped)."""
    return TensorSpec(shape=[int(d) for d in shape[1:]], dtype="float32")


def read_contract(directory: Path) -> Artifact:
    return Artifact.from_contract(json.loads((directory / CONTRACT_FILE).read_text()))


def is_keras3(model) -> bool:
    """True for a Keras 3 model (package `keras`), False for tf-keras (package `tf_keras`)."""
    return type(model).__module__.split(".")[0] == "keras"


def model_specs(model) -> tuple[TensorSpec, TensorSpec]:
    """float32 input and output specs of a single-input, single-output Keras model (tf-keras or Keras 3)."""
    return keras_spec(tuple(model.inputs[0].shape)), keras_spec(tuple(model.outputs[0].shape))


def save_tf_saved_model(model, dest: Path) -> None:
    """A SavedModel with a `serving_default` signature (image in, scores out), for any Keras version.

    Keras 3 writes it with its own `export`: a concrete function traced here would keep the weights as resource
    variables that the TFLite converter's int8 calibration cannot read.
    """
    import tensorflow as tf

    if is_keras3(model):
        model.export(str(dest), format="tf_saved_model", verbose=False)
    else:
        tf.saved_model.save(model, str(dest))
