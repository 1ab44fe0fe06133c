"""The Artifact record and its model contract (contract.json), which the web demo and the Android app read."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any

CONTRACT_FILE = "contract.json"
CONTRACT_VERSION = 1
LABELS = [str(d) for d in range(10)]
# The toolkit feeds models pixels / 255: every exporter records it so no consumer has to guess.
NORMALIZATION = {"divide_by": 255.0, "range": [0.0, 1.0]}


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


@dataclasses.dataclass
class Artifact:
    """A converted model on disk: a directory holding the model file(s) and contract.json.

    `source` names the Keras model it was converted from ("float" or "qat"); `output_kind` says whether the
    model returns probabilities or logits (consumers apply softmax to logits).
    """

    name: str
    format: Format
    variant: Variant
    source: str
    path: str  # the artifact directory, relative to the run directory
    main_file: str  # the file a runtime loads, relative to the artifact directory
    input: TensorSpec
    output: TensorSpec
    output_kind: str = "probabilities"
    files: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # name -> {sha256, size_bytes}

    @property
    def size_bytes(self) -> int:
        return sum(f["size_bytes"] for f in self.files.values())

    @property
    def sha256(self) -> str:
        return self.files[self.main_file]["sha256"]

    def to_contract(self) -> dict[str, Any]:
        return {
            "edgekit_contract": CONTRACT_VERSION,
            "name": self.name,
            "format": self.format.value,
            "variant": self.variant.value,
            "source": self.source,
            "path": self.path,
            "main_file": self.main_file,
            "input": dataclasses.asdict(self.input),
            "output": dataclasses.asdict(self.output),
            "output_kind": self.output_kind,
            "normalization": NORMALIZATION,
            "labels": LABELS,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "files": self.files,
        }

    @classmethod
    def from_contract(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            name=data["name"],
            format=Format(data["format"]),
            variant=Variant(data["variant"]),
            source=data["source"],
            path=data["path"],
            main_file=data["main_file"],
            input=TensorSpec(**data["input"]),
            output=TensorSpec(**data["output"]),
            output_kind=data["output_kind"],
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
