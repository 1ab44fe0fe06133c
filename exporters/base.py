"""The Artifact record and its model contract (contract.json), which the web demo and the Android app read."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from enum import Enum
from pathlib import Path
from typing import Any

CONTRACT_FILE = "contract.json"
CONTRACT_VERSION = 2
NORMALIZATION_KINDS = ("unit", "symmetric", "raw", "mean_std")
# The tensor types the pixel code feeds and reads (toolkit.pixels.tensors): integer ones carry scale and zero point.
TENSOR_DTYPES = ("float32", "float16", "int8", "uint8", "int16")
INTEGER_DTYPES = ("int8", "uint8", "int16")
OUTPUT_KINDS = ("probabilities", "logits")
# What quantized a TFLite file: the TFLite converter's post-training quantization or the LiteRT quantizer.
BACKENDS = ("tflite-converter", "ai-edge-quantizer")
MODEL_TYPES = ("graph-model", "layers-model")


class FieldError(ValueError):
    """A contract or run record whose field is missing or of the wrong kind; the message names the field."""


def _get(data: Any, key: str, where: str) -> Any:
    if not isinstance(data, dict):
        raise FieldError(f"{where or 'the record'} must be an object, not {type(data).__name__}")
    if key not in data:
        raise FieldError(f"missing field {where + '.' if where else ''}{key}")
    return data[key]


def _text(value: Any, field: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or (choices is not None and value not in choices):
        expected = f"one of {', '.join(choices)}" if choices else "a string"
        raise FieldError(f"field {field} must be {expected}, not {value!r:.60}")
    return value


def _count(value: Any, field: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FieldError(f"field {field} must be an integer >= {minimum}, not {value!r:.60}")
    return value


def _finite(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FieldError(f"field {field} must be a finite number, not {value!r:.60}")
    return float(value)


def _numbers(value: Any, field: str, optional: bool = False) -> tuple[float, ...] | None:
    if value is None and optional:
        return None
    if not isinstance(value, list) or not value:
        raise FieldError(f"field {field} must be a non-empty list of numbers, not {value!r:.60}")
    return tuple(_finite(v, f"{field}[{i}]") for i, v in enumerate(value))


def check_labels(labels: Any) -> tuple[str, ...]:
    """Class names as every artifact labels its outputs: a list of non-empty strings, each named once.

    Raises:
        ValueError: saying which name is wrong.
    """
    if not isinstance(labels, list | tuple) or not all(isinstance(name, str) for name in labels):
        raise FieldError(f"class names must be a list of strings, not {labels!r:.60}")
    empty = [i for i, name in enumerate(labels) if not name.strip()]
    if empty:
        raise FieldError(f"class name {empty[0]} is empty; every class needs a name")
    seen: dict[str, int] = {}
    for i, name in enumerate(labels):
        if name in seen:
            raise FieldError(f"classes {seen[name]} and {i} are both named {name!r}; names must differ")
        seen[name] = i
    return tuple(labels)


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
    INT8 = "int8"  # full integer: int8 weights, activations, input and output (some ops may be int16)
    INT16X8 = "int16x8"  # full integer: int8 weights, int16 activations, input and output
    # Weight-only (the LiteRT quantizer): weights stored as int8 or int4, dequantized to float where they are read;
    # float activations, input and output (docs/quantization.md).
    WEIGHTS_INT8 = "weights-int8"
    WEIGHTS_INT4 = "weights-int4"
    UINT8 = "uint8"  # TF.js weight quantization to 8 bits


@dataclasses.dataclass
class TensorSpec:
    """One input or output tensor. `shape` excludes the batch dimension, which is always first and free."""

    shape: list[int]
    dtype: str
    scale: float | None = None  # set only for integer tensors: real = scale * (q - zero_point)
    zero_point: int | None = None

    @classmethod
    def from_dict(cls, data: Any, field: str) -> TensorSpec:
        """Raises FieldError naming the field: shape entries positive integers, a known dtype, and a finite positive
        scale with an integer zero point exactly for integer tensors."""
        shape = _get(data, "shape", field)
        if not isinstance(shape, list):
            raise FieldError(f"field {field}.shape must be a list of positive integers, not {shape!r:.60}")
        shape = [_count(d, f"{field}.shape[{i}]") for i, d in enumerate(shape)]
        dtype = _text(_get(data, "dtype", field), f"{field}.dtype", TENSOR_DTYPES)
        scale, zero_point = data.get("scale"), data.get("zero_point")
        if dtype in INTEGER_DTYPES:
            if _finite(scale, f"{field}.scale") <= 0:
                raise FieldError(f"field {field}.scale must be positive, not {scale!r}")
            if isinstance(zero_point, bool) or not isinstance(zero_point, int):
                raise FieldError(f"field {field}.zero_point must be an integer, not {zero_point!r:.60}")
        elif scale is not None or zero_point is not None:
            raise FieldError(f"field {field}: a {dtype} tensor has no scale or zero_point")
        return cls(shape, dtype, None if scale is None else float(scale), zero_point)


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """The picture a model's input holds, whatever the input tensor's shape: height x width x channels (1 or 3)."""

    height: int
    width: int
    channels: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    @classmethod
    def from_dict(cls, data: Any, field: str = "image") -> ImageSpec:
        """Raises FieldError naming the field: positive height and width, 1 or 3 channels."""
        height, width = (_count(_get(data, key, field), f"{field}.{key}") for key in ("height", "width"))
        channels = _get(data, "channels", field)
        if channels not in (1, 3) or isinstance(channels, bool):
            raise FieldError(f"field {field}.channels must be 1 or 3, not {channels!r:.60}")
        return cls(height, width, channels)


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
    def from_dict(cls, data: Any, field: str = "normalization") -> Normalization:
        """Raises FieldError naming the field: a known kind, finite numbers, scale and offset of one length, a
        positive std."""
        kind = _text(_get(data, "kind", field), f"{field}.kind", NORMALIZATION_KINDS)
        scale, offset = (_numbers(_get(data, key, field), f"{field}.{key}") for key in ("scale", "offset"))
        mean, std = (_numbers(data.get(key), f"{field}.{key}", optional=True) for key in ("mean", "std"))
        if len(scale) != len(offset):
            raise FieldError(f"field {field}: {len(scale)} scale values but {len(offset)} offset values")
        if std is not None and min(std) <= 0:
            raise FieldError(f"field {field}.std must be positive, not {list(std)}")
        decided = data.get("decided")
        if decided is not None and not isinstance(decided, dict):
            raise FieldError(f"field {field}.decided must be an object, not {decided!r:.60}")
        return cls(kind, scale, offset, mean, std, decided)


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
    def from_dict(cls, data: Any) -> Classifier:
        """Raises FieldError naming the field (see ImageSpec, Normalization and check_labels)."""
        image = ImageSpec.from_dict(_get(data, "image", ""))
        normalization = Normalization.from_dict(_get(data, "normalization", ""))
        try:
            normalization.check_channels(image.channels)
        except ValueError as error:
            raise FieldError(f"field normalization: {error}") from None
        output_kind = _text(_get(data, "output_kind", ""), "output_kind", OUTPUT_KINDS)
        try:
            labels = check_labels(_get(data, "labels", ""))
        except FieldError as error:
            raise FieldError(f"field labels: {error}") from None
        if len(labels) < 2:
            raise FieldError(f"field labels: a classifier has at least 2 classes, not {len(labels)}")
        return cls(image, normalization, output_kind, labels)


MNIST = Classifier()

# RGB -> gray inside a pixels artifact of a one-channel model: ITU-R 601 luma as 65/217, 127/217, 25/217, whose
# per-channel int8 quantization is exact (weights 65, 127, 25), so R=G=B=p gives back p in float32 and int8 alike
# (docs/verdict.md, "Pixels artifacts").
GRAY_FROM_RGB = (65 / 217, 127 / 217, 25 / 217)
RAW = Normalization("raw", (1.0,), (0.0,))


@dataclasses.dataclass(frozen=True)
class PixelsInput:
    """What a "pixels" artifact does inside its graph so that an app hands it a decoded RGB picture unchanged:
    batch 1, RGB pixels 0..255 in; RGB->gray (`gray_weights`, for one-channel models), the run's normalization and,
    for logits models, a softmax appended, all inside. Its contract's image, normalization and output_kind are then
    `pixels_classifier(run's classifier)`."""

    batch: int = 1
    gray_weights: tuple[float, ...] | None = None
    softmax_appended: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "gray_weights": None if self.gray_weights is None else list(self.gray_weights),
            "softmax_appended": self.softmax_appended,
        }

    @classmethod
    def from_dict(cls, data: Any, field: str = "pixels") -> PixelsInput:
        """Raises FieldError naming the field: batch 1, three gray weights or null, softmax_appended a boolean."""
        batch = _count(_get(data, "batch", field), f"{field}.batch")
        if batch != 1:
            raise FieldError(f"field {field}.batch must be 1, not {batch}")
        weights = _numbers(data.get("gray_weights"), f"{field}.gray_weights", optional=True)
        if weights is not None and len(weights) != 3:
            raise FieldError(f"field {field}.gray_weights must hold 3 numbers, not {len(weights)}")
        appended = _get(data, "softmax_appended", field)
        if not isinstance(appended, bool):
            raise FieldError(f"field {field}.softmax_appended must be true or false, not {appended!r:.60}")
        return cls(batch, weights, appended)


def pixels_classifier(model: Classifier) -> Classifier:
    """What a pixels artifact of a model described by `model` reads and returns: the same picture size with 3
    channels, raw pixels (its normalization is inside), probabilities, the same labels."""
    image = ImageSpec(model.image.height, model.image.width, 3)
    return Classifier(image, RAW, "probabilities", model.labels)


def pixels_input(model: Classifier) -> PixelsInput:
    """The in-graph steps a pixels artifact of a model described by `model` takes."""
    gray = GRAY_FROM_RGB if model.image.channels == 1 else None
    return PixelsInput(1, gray, model.output_kind == "logits")


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
    pixels: PixelsInput | None = None  # a pixels artifact: RGB pixels in, preprocessing inside the graph
    # TFLite only: {"backend": one of BACKENDS, ...the recipe: per-layer precision, whether fully integer}
    quantization: dict[str, Any] | None = None

    @property
    def size_bytes(self) -> int:
        return sum(f["size_bytes"] for f in self.files.values())

    @property
    def int16_activations(self) -> bool:
        """Some ops compute with int16 activations: CPUs run them on LiteRT's reference kernels (XNNPACK has none)."""
        overrides = (self.quantization or {}).get("overrides", [])
        return self.variant is Variant.INT16X8 or any(o.get("precision") == "int16" for o in overrides)

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
            **({"pixels": self.pixels.to_dict()} if self.pixels else {}),
            **({"quantization": self.quantization} if self.quantization is not None else {}),
        }

    @classmethod
    def from_contract(cls, data: Any) -> Artifact:
        """Every field checked for its kind before anything uses it.

        Raises:
            ValueError: a contract of another version, or FieldError (a ValueError) naming a missing or wrong field.
        """
        if not isinstance(data, dict):
            raise FieldError(f"a contract is a JSON object, not {type(data).__name__}")
        if data.get("edgekit_contract") != CONTRACT_VERSION:
            raise ValueError(
                f"contract version {data.get('edgekit_contract')!r:.20}, expected {CONTRACT_VERSION}: "
                "export the run again"
            )
        text = {key: _text(_get(data, key, ""), key) for key in ("name", "source", "path", "main_file")}
        model_type = data.get("model_type")
        artifact = cls(
            **text,
            format=Format(_text(_get(data, "format", ""), "format", tuple(f.value for f in Format))),
            variant=Variant(_text(_get(data, "variant", ""), "variant", tuple(v.value for v in Variant))),
            input=TensorSpec.from_dict(_get(data, "input", ""), "input"),
            output=TensorSpec.from_dict(_get(data, "output", ""), "output"),
            classifier=Classifier.from_dict(data),
            model_type=None if model_type is None else _text(model_type, "model_type", MODEL_TYPES),
            files=_files(_get(data, "files", "")),
            pixels=None if data.get("pixels") is None else PixelsInput.from_dict(data["pixels"]),
            quantization=_quantization(data.get("quantization")),
        )
        if artifact.main_file not in artifact.files:
            raise FieldError(f"field main_file: {artifact.main_file!r:.60} is not one of the contract's files")
        if math.prod(artifact.output.shape) != len(artifact.classifier.labels):
            raise FieldError(
                f"field labels: {len(artifact.classifier.labels)} class names for an output of shape "
                f"{artifact.output.shape}"
            )
        return artifact


def _quantization(data: Any) -> dict[str, Any] | None:
    """The optional record of what quantized a TFLite file: an object naming a known backend."""
    if data is None:
        return None
    _text(_get(data, "backend", "quantization"), "quantization.backend", BACKENDS)
    return data


def _files(data: Any) -> dict[str, dict[str, Any]]:
    """The contract's file list: each name with a sha256 (64 hex digits) and a size in bytes."""
    if not isinstance(data, dict) or not data:
        raise FieldError(f"field files must be an object naming each file, not {data!r:.60}")
    for name, entry in data.items():
        digest = _get(entry, "sha256", f"files[{name!r}]")
        if not isinstance(digest, str) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise FieldError(f"field files[{name!r}].sha256 must be 64 hex digits, not {digest!r:.70}")
        _count(_get(entry, "size_bytes", f"files[{name!r}]"), f"files[{name!r}].size_bytes", minimum=0)
    return data


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
