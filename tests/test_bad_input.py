"""Bad input of every kind: exit 2, one line naming the file or option, no traceback, nothing left behind or damaged.

Cases marked `unit` fail before TensorFlow is imported; `test_unit_cases_never_import_tensorflow` proves it by
running them in a fresh interpreter.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from support import synthetic_digits, write_npz
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.data.datasets import IDX_FILES

runner = CliRunner()
STRICT = os.environ.get("EDGEKIT_STRICT_NO_TF") == "1"  # set by the fresh-interpreter run below


# ---- files the cases are made of -----------------------------------------------------------------------------


def npz(**override) -> Callable[[Path], None]:
    """A tiny valid data set, with some arrays replaced."""

    def make(path: Path) -> None:
        x_train, y_train = synthetic_digits(60, 1)
        x_test, y_test = synthetic_digits(20, 2)
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test, **override}
        np.savez(path, **{k: v for k, v in arrays.items() if v is not None})

    return make


def idx_dir(**override) -> Callable[[Path], None]:
    """A directory of the four MNIST IDX files, with some arrays replaced (None: the file is missing)."""

    def make(path: Path) -> None:
        path.mkdir()
        x, y = synthetic_digits(30, 3)
        for key, array in {"x_train": x, "y_train": y, "x_test": x, "y_test": y, **override}.items():
            if array is None:
                continue
            if isinstance(array, bytes):
                (path / IDX_FILES[key]).write_bytes(array)
                continue
            header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            (path / IDX_FILES[key]).write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))

    return make


def text(content: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(content.encode() if isinstance(content, str) else content)

    return make


def npz_declaring(key: str, shape: tuple[int, ...]) -> Callable[[Path], None]:
    """A valid tiny .npz whose member `key` declares `shape` (uint8) but holds a few bytes."""

    def make(path: Path) -> None:
        npz()(path)
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files if k != key}
        np.savez(path, **arrays)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(f"{key}.npy", header.getvalue() + bytes(16))

    return make


def npz_of_text_members(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for key in IDX_FILES:
            archive.writestr(f"{key}.txt", "1 2 3")


def directory_with_file(path: Path) -> None:
    path.mkdir()
    (path / "keep.txt").write_text("the user's file")


CONTRACT = {
    "edgekit_contract": 1,
    "name": "tflite-float32",
    "format": "tflite",
    "variant": "float32",
    "source": "float",
    "path": "artifacts/tflite-float32",
    "main_file": "model.tflite",
    "input": {"shape": [28, 28], "dtype": "float32", "scale": None, "zero_point": None},
    "output": {"shape": [10], "dtype": "float32", "scale": None, "zero_point": None},
    "output_kind": "probabilities",
    "files": {},
}


def run_dir(steps: dict | None = None, contract: str | None = None, manifest: str | None = None):
    """A run directory as edgekit writes it, with the given steps and (optionally) one artifact's contract."""
    steps = {"train": {"started": "t", "finished": "t"}, "export": {"started": "t", "finished": "t"}, **(steps or {})}

    def make(path: Path) -> None:
        path.mkdir()
        default = json.dumps({"created": "t", "steps": steps, "data": {"path": None, "x_test_sha256": "0"}})
        (path / "manifest.json").write_text(default if manifest is None else manifest)
        if contract is not None:
            (path / "artifacts" / "tflite-float32").mkdir(parents=True)
            (path / "artifacts" / "tflite-float32" / "contract.json").write_text(contract)

    return make


def h5_with_config(config: dict) -> Callable[[Path], None]:
    """An .h5 model file as far as its config goes (no weights): what the trust check reads."""

    def make(path: Path) -> None:
        import h5py

        with h5py.File(path, "w") as f:
            f.attrs["model_config"] = json.dumps(config)
            f.attrs["keras_version"] = "2.19.0"

    return make


def keras_zip_with_config(config: dict) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("metadata.json", json.dumps({"keras_version": "2.19.0"}))

    return make


def saved_model_dir(metadata: bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.mkdir()
        (path / "keras_metadata.pb").write_bytes(metadata)
        (path / "saved_model.pb").write_bytes(b"")

    return make


LAMBDA = {
    "class_name": "Sequential",
    "config": {
        "name": "m",
        "layers": [{"class_name": "Lambda", "config": {"name": "payload", "function": ["4wEAAAA=", None, None]}}],
    },
}
FOREIGN_MODULE = {
    "class_name": "Sequential",
    "config": {"layers": [{"class_name": "system", "module": "os", "config": {"name": "x"}}]},
}

UNFINISHED = {"started": "2026-11-28T04:00:00+00:00"}


def png(size: tuple[int, int] = (8, 8)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    noise = np.random.default_rng(size[0]).integers(0, 256, size, dtype=np.uint8)  # incompressible: cut, it is short
    Image.fromarray(noise).save(buffer, "PNG")
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height grayscale pixels, with a few bytes of image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")
    )


def image_folder(files: dict[str, bytes | None] | None = None, links: dict[str, str] | None = None):
    """Classes a and b of four 8x8 PNGs; `files` adds (or, with None, makes an empty directory), `links` adds
    symbolic links (name -> target, "{outside}" a directory beside the folder)."""

    def make(path: Path) -> None:
        for name in "ab":
            (path / name).mkdir(parents=True)
            for i in range(4):
                (path / name / f"{i}.png").write_bytes(png())
        for relative, content in (files or {}).items():
            (path / relative).parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                (path / relative).mkdir()
            else:
                (path / relative).write_bytes(content)
        outside = path.parent / "outside"
        outside.mkdir(exist_ok=True)
        (outside / "0.png").write_bytes(png())
        for relative, target in (links or {}).items():
            (path / relative).symlink_to(target.format(outside=outside))

    return make


def split_folder(path: Path) -> None:
    image_folder()(path / "train")
    image_folder({"c/0.png": png()})(path / "test")


# ---- the cases: (id, command line, files to make first, text the one-line error must contain) ---------------
# {t} is the test's directory; {data} a valid tiny .npz there. A case whose id ends in "!" needs TensorFlow.

CASES: list[tuple[str, list[str], dict[str, Callable[[Path], None]], str]] = [
    # options, checked by the same schema as the config file
    ("epochs-text", ["train", "--epochs", "abc"], {}, "'--epochs'"),
    ("epochs-negative", ["train", "--epochs", "-3"], {}, "--epochs"),
    ("epochs-zero", ["train", "--epochs", "0"], {}, "--epochs"),
    ("batch-zero", ["train", "--batch-size", "0"], {}, "--batch-size"),
    ("batch-text", ["train", "--batch-size", "x"], {}, "'--batch-size'"),
    ("lr-text", ["train", "--learning-rate", "fast"], {}, "'--learning-rate'"),
    ("lr-zero", ["train", "--learning-rate", "0"], {}, "--learning-rate"),
    ("lr-negative", ["train", "--learning-rate", "-1"], {}, "--learning-rate"),
    ("lr-nan", ["train", "--learning-rate", "nan"], {}, "--learning-rate"),
    ("lr-inf", ["train", "--learning-rate", "inf"], {}, "--learning-rate"),
    ("validation-zero", ["train", "--validation-size", "0"], {}, "--validation-size"),
    ("validation-text", ["train", "--validation-size", "ten"], {}, "'--validation-size'"),
    ("seed-negative", ["train", "--seed", "-1"], {}, "--seed"),
    ("architecture", ["train", "--arch", "resnet"], {}, "'--arch'"),
    ("preset", ["train", "--preset", "quick"], {}, "preset 'quick'"),
    ("unknown-option", ["train", "--epoch", "3"], {}, "--epoch"),
    ("qat-epochs-zero", ["pipeline", "--qat-epochs", "0"], {}, "--qat-epochs"),
    ("tolerance-text", ["pipeline", "-t", "int8=abc"], {}, "--tolerance"),
    ("tolerance-nan", ["pipeline", "-t", "int8=nan"], {}, "--tolerance"),
    ("tolerance-inf", ["pipeline", "-t", "int8=inf"], {}, "--tolerance"),
    ("tolerance-negative", ["pipeline", "-t", "int8=-1"], {}, "--tolerance"),
    ("tolerance-variant", ["pipeline", "-t", "int4=1"], {}, "--tolerance"),
    ("tolerance-no-equals", ["pipeline", "-t", "int8"], {}, "--tolerance"),
    ("runtime", ["pipeline", "-r", "litert", "-r", "onnx"], {}, "--runtime"),
    ("validate-runtime", ["validate", "{t}/run", "-r", "onnx"], {"run": run_dir()}, "--runtime"),
    ("validate-targets", ["validate", "{t}/run", "--targets", "safari"], {"run": run_dir()}, "--targets"),
    ("targets-number", ["pipeline", "-c", "{t}/c.toml"], {"c.toml": text("[parity]\ntargets = 3\n")}, "c.toml"),
    ("resume-with-options", ["train", "--resume", "{t}/run", "--epochs", "3"], {"run": run_dir()}, "--epochs"),
    ("pipeline-resume-options", ["pipeline", "--resume", "{t}/run", "--data", "{data}"], {"run": run_dir()}, "--data"),
    # the config file gets the same checks, naming the file
    ("cfg-epochs-text", ["train", "-c", "{t}/c.toml"], {"c.toml": text('[train]\nepochs = "abc"\n')}, "c.toml"),
    ("cfg-epochs-negative", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nepochs = -3\n")}, "c.toml"),
    ("cfg-epochs-float", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nepochs = 1.5\n")}, "c.toml"),
    ("cfg-batch-zero", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nbatch_size = 0\n")}, "c.toml"),
    ("cfg-lr-text", ["train", "-c", "{t}/c.toml"], {"c.toml": text('[train]\nlearning_rate = "fast"\n')}, "c.toml"),
    ("cfg-lr-nan", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nlearning_rate = nan\n")}, "c.toml"),
    ("cfg-decay-zero", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nlr_decay = 0\n")}, "c.toml"),
    ("cfg-augment-text", ["train", "-c", "{t}/c.toml"], {"c.toml": text('[train]\naugment = "yes"\n')}, "c.toml"),
    (
        "cfg-validation-zero",
        ["train", "-c", "{t}/c.toml"],
        {"c.toml": text("[train]\nvalidation_size = 0\n")},
        "c.toml",
    ),
    ("cfg-qat-float", ["pipeline", "-c", "{t}/c.toml"], {"c.toml": text("[qat]\nepochs = 0.5\n")}, "c.toml"),
    ("cfg-export-text", ["pipeline", "-c", "{t}/c.toml"], {"c.toml": text('[export]\ntflite = "no"\n')}, "c.toml"),
    (
        "cfg-tolerance-text",
        ["validate", "{t}/run", "-c", "{t}/c.toml"],
        {"c.toml": text('[parity]\ntolerances = {int8 = "abc"}\n'), "run": run_dir()},
        "c.toml",
    ),
    (
        "cfg-tolerance-nan",
        ["pipeline", "-c", "{t}/c.toml"],
        {"c.toml": text("[parity.tolerances]\nint8 = nan\n")},
        "c.toml",
    ),
    (
        "cfg-tolerance-variant",
        ["pipeline", "-c", "{t}/c.toml"],
        {"c.toml": text("[parity.tolerances]\nint4 = 1\n")},
        "c.toml",
    ),
    (
        "cfg-tolerances-scalar",
        ["pipeline", "-c", "{t}/c.toml"],
        {"c.toml": text("[parity]\ntolerances = 1\n")},
        "c.toml",
    ),
    (
        "cfg-agreement-above-100",
        ["pipeline", "-c", "{t}/c.toml"],
        {"c.toml": text("[parity.min_agreement]\nint8 = 101\n")},
        "c.toml",
    ),
    (
        "cfg-runtimes-string",
        ["pipeline", "-c", "{t}/c.toml"],
        {"c.toml": text('[parity]\nruntimes = "litert"\n')},
        "c.toml",
    ),
    (
        "cfg-runtimes-unknown",
        ["pipeline", "-c", "{t}/c.toml"],
        {"c.toml": text('[parity]\nruntimes = ["onnx"]\n')},
        "c.toml",
    ),
    ("cfg-section-scalar", ["train", "-c", "{t}/c.toml"], {"c.toml": text("train = 5\n")}, "c.toml"),
    ("cfg-unknown-section", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[trian]\nepochs = 1\n")}, "c.toml"),
    ("cfg-unknown-key", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nepoch = 1\n")}, "c.toml"),
    ("cfg-not-utf8", ["train", "-c", "{t}/c.toml"], {"c.toml": text(b"[train]\nepochs = 3 # \xff\xfe\n")}, "c.toml"),
    ("cfg-not-toml", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train\n")}, "c.toml"),
    ("cfg-missing", ["train", "-c", "{t}/none.toml"], {}, "none.toml"),
    ("cfg-directory", ["train", "-c", "{t}/cfgdir"], {"cfgdir": lambda p: p.mkdir()}, "cfgdir"),
    # N14: a config file is read up to its size limit, never further
    ("cfg-dev-zero", ["train", "-c", "/dev/zero"], {}, "config /dev/zero: larger than edgekit's limit of 1 MiB"),
    ("cfg-too-large", ["train", "-c", "{t}/c.toml"], {"c.toml": text("#" * 2**20 + "\n")}, "c.toml: larger than"),
    # absurd settings: the schema's bound is in the message
    ("epochs-absurd", ["train", "--epochs", str(10**20)], {}, "--epochs: Input should be less than or equal to 10000"),
    ("cfg-epochs-absurd", ["train", "-c", "{t}/c.toml"], {"c.toml": text(f"[train]\nepochs = {10**20}\n")}, "10000"),
    ("cfg-epochs-1e20", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nepochs = 1e20\n")}, "epochs"),
    ("cfg-batch-absurd", ["train", "-c", "{t}/c.toml"], {"c.toml": text("[train]\nbatch_size = 10000000\n")}, "65536"),
    (
        "cfg-validation-absurd",
        ["train", "-c", "{t}/c.toml"],
        {"c.toml": text("[train]\nvalidation_size = 100000000000\n")},
        "validation_size: Input should be less than or equal to 10000000",
    ),
    (
        "cfg-representative-absurd",
        ["pipeline", "-c", "{t}/c.toml"],
        {"c.toml": text("[export]\nrepresentative_size = 100000000000\n")},
        "representative_size: Input should be less than or equal to 10000000",
    ),
    ("cfg-seed-absurd", ["train", "-c", "{t}/c.toml"], {"c.toml": text(f"[train]\nseed = {2**40}\n")}, "4294967295"),
    (
        "cfg-qat-batch-absurd",
        ["qat", "{t}/run", "-c", "{t}/c.toml"],
        {"run": run_dir(), "c.toml": text("[qat]\nbatch_size = 10000000\n")},
        "65536",
    ),
    # where the run would go
    ("out-under-file", ["train", "--data", "{data}", "--out", "{t}/f/run"], {"f": text("x")}, "--out"),
    ("out-is-file", ["train", "--data", "{data}", "--out", "{t}/f"], {"f": text("x")}, "--out"),
    ("out-not-empty", ["train", "--data", "{data}", "--out", "{t}/d"], {"d": directory_with_file}, "--out"),
    ("out-in-proc", ["train", "--data", "{data}", "--out", "/proc/edgekit-run"], {}, "--out /proc/edgekit-run"),
    ("pipeline-out-not-empty", ["pipeline", "--data", "{data}", "--out", "{t}/d"], {"d": directory_with_file}, "--out"),
    (
        "export-out-not-empty",
        ["export", "--model", "{t}/m.h5", "--data", "{data}", "--out", "{t}/d"],
        {"d": directory_with_file, "m.h5": text("x")},
        "--out",
    ),
    # data
    ("data-missing", ["train", "--data", "{t}/none.npz", "--out", "{t}/run"], {}, "none.npz"),
    (
        "npz-truncated",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": text(b"PK\x03\x04\x14")},
        "d.npz",
    ),
    ("npz-not-npy", ["train", "--data", "{t}/d.npz", "--out", "{t}/run"], {"d.npz": npz_of_text_members}, "d.npz"),
    ("npz-missing-array", ["train", "--data", "{t}/d.npz", "--out", "{t}/run"], {"d.npz": npz(y_test=None)}, "d.npz"),
    (
        "npz-wrong-shape",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": npz(x_train=np.zeros((60, 27, 27), np.uint8))},
        "d.npz",
    ),
    (
        "npz-bad-labels",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": npz(y_train=np.full(60, 11, np.uint8))},
        "d.npz",
    ),
    (
        "npz-pixels-over-255",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": npz(x_test=np.full((20, 28, 28), 300, np.int16))},
        "d.npz",
    ),
    (
        "npz-count-mismatch",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": npz(y_train=np.zeros(59, np.uint8))},
        "d.npz",
    ),
    (
        "idx-wrong-rank",
        ["train", "--data", "{t}/idx", "--out", "{t}/run"],
        {"idx": idx_dir(x_train=np.zeros((30, 784), np.uint8))},
        "2 dimension(s), expected 3",
    ),
    (
        "npz-class-name-empty",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": npz(class_names=np.array(["zero", ""] + [str(k) for k in range(2, 10)]))},
        "d.npz: class name 1 is empty",
    ),
    (
        "npz-class-names-twice",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": npz(class_names=np.array(["cat", "dog", "cat"] + [str(k) for k in range(3, 10)]))},
        "d.npz: classes 0 and 2 are both named 'cat'",
    ),
    (
        "npz-member-declares-too-much",
        ["train", "--data", "{t}/d.npz", "--out", "{t}/run"],
        {"d.npz": npz_declaring("x_test", (10**6, 1000, 1000))},
        "d.npz: member x_test declares 1000000x1000x1000 uint8",
    ),
    (
        "idx-header-declares-too-much",
        ["train", "--data", "{t}/idx", "--out", "{t}/run"],
        {"idx": idx_dir(x_train=gzip.compress(struct.pack(">BBBBIII", 0, 0, 8, 3, 10**5, 10**3, 10**3)))},
        "train-images-idx3-ubyte.gz: its header declares 100000x1000x1000 bytes of data: 93.1 GiB, above",
    ),
    ("idx-missing-file", ["train", "--data", "{t}/idx", "--out", "{t}/run"], {"idx": idx_dir(y_test=None)}, "idx"),
    ("idx-not-gzip", ["train", "--data", "{t}/idx", "--out", "{t}/run"], {"idx": idx_dir(y_train=b"plain")}, "idx1"),
    # N12: an image folder's bad files, each named, before Keras (or TensorFlow) reads any
    *[
        (f"folder-{case}", ["train", "--data", "{t}/imgs", "--out", "{t}/run"], {"imgs": make}, expect)
        for case, make, expect in [
            ("corrupt-image", image_folder({"b/2.png": b"\x89PNG garbage" * 20}), "b/2.png: not a readable image"),
            ("truncated-image", image_folder({"a/9.png": png((32, 32))[:600]}), "a/9.png: not a readable image"),
            ("empty-image", image_folder({"a/0.png": b""}), "a/0.png: not a readable image"),
            ("bomb-image", image_folder({"b/big.png": png_declaring(20000, 20000)}), "b/big.png: above"),
            ("large-image", image_folder({"b/big.png": png_declaring(8000, 8000)}), "b/big.png: 8000x8000 pixels"),
            ("nested-bad-image", image_folder({"a/deep/er/x.gif": b"GIF89a"}), "a/deep/er/x.gif"),
            ("link-to-passwd", image_folder(links={"a/evil.png": "/etc/passwd"}), "a/evil.png: a symbolic link"),
            ("class-linked-out", image_folder(links={"c": "{outside}"}), "imgs/c: a symbolic link"),
            ("empty-class", image_folder({"c": None}), "imgs/c: an empty class folder"),
            ("class-without-images", image_folder({"c/notes.txt": b"x"}), "imgs/c: an empty class folder"),
            ("split-other-classes", split_folder, "test/ has ['a', 'b', 'c']"),
        ]
    ],
    (
        "validation-too-large",
        ["train", "--data", "{data}", "--out", "{t}/run", "--validation-size", "60"],
        {},
        "--validation-size",
    ),
    # export --model
    (
        "export-nothing-enabled",
        ["export", "--model", "{t}/m.h5", "--data", "{data}", "--out", "{t}/run", "-c", "{t}/c.toml"],
        {"m.h5": text("x"), "c.toml": text("[export]\ntflite = false\ntfjs = false\nsaved_model = false\n")},
        "every format is switched off",
    ),
    ("export-model-missing", ["export", "--model", "{t}/none.h5", "--out", "{t}/run"], {}, "none.h5"),
    ("export-both", ["export", "{t}/run", "--model", "{t}/m.h5"], {"m.h5": text("x")}, "RUN_DIR or --model"),
    ("export-run-with-data", ["export", "{t}/run", "--data", "{data}"], {"run": run_dir()}, "--data"),
    ("export-run-trust", ["export", "{t}/run", "--trust-model"], {"run": run_dir()}, "--trust-model"),
    (
        "export-lambda-h5",
        ["export", "--model", "{t}/m.h5", "--out", "{t}/run"],
        {"m.h5": h5_with_config(LAMBDA)},
        "Lambda",
    ),
    (
        "export-foreign-module",
        ["export", "--model", "{t}/m.keras", "--out", "{t}/run"],
        {"m.keras": keras_zip_with_config(FOREIGN_MODULE)},
        "module 'os'",
    ),
    (
        "export-unreadable-metadata",
        ["export", "--model", "{t}/sm", "--out", "{t}/run"],
        {"sm": saved_model_dir(b"\x0a\xff\xff")},
        "keras_metadata.pb",
    ),
    ("export-model-garbage!", ["export", "--model", "{t}/m.h5", "--out", "{t}/run"], {"m.h5": text("x" * 64)}, "m.h5"),
    # run directories: contracts, manifests, unfinished steps
    ("validate-not-a-run", ["validate", "{t}"], {}, "not an edgekit run directory"),
    ("manifest-truncated", ["validate", "{t}/run"], {"run": run_dir(manifest='{"steps": {')}, "manifest.json"),
    (
        "contract-truncated",
        ["validate", "{t}/run"],
        {"run": run_dir(contract=json.dumps(CONTRACT)[:40])},
        "contract.json",
    ),
    (
        "contract-unknown-variant",
        ["validate", "{t}/run"],
        {"run": run_dir(contract=json.dumps({**CONTRACT, "variant": "int4"}))},
        "contract.json",
    ),
    ("contract-not-an-object", ["validate", "{t}/run"], {"run": run_dir(contract="[1, 2]")}, "contract.json"),
    ("qat-after-killed-train", ["qat", "{t}/run"], {"run": run_dir({"train": UNFINISHED})}, "train --resume"),
    ("export-after-killed-qat", ["export", "{t}/run"], {"run": run_dir({"qat": UNFINISHED})}, "edgekit qat"),
    (
        "validate-after-killed-export",
        ["validate", "{t}/run"],
        {"run": run_dir({"export": UNFINISHED})},
        "edgekit export",
    ),
    ("resume-finished", ["train", "--resume", "{t}/run"], {"run": run_dir()}, "already finished"),
    ("resume-not-a-run", ["train", "--resume", "{t}"], {}, "not an edgekit run directory"),
    (
        "export-run-nothing-enabled",
        ["export", "{t}/run", "-c", "{t}/c.toml"],
        {"run": run_dir(), "c.toml": text("[export]\ntflite = false\ntfjs = false\nsaved_model = false\n")},
        "every format is switched off",
    ),
]


def complete_run(path: Path) -> None:
    """A run directory as a finished gate leaves it, without models: a manifest, one TFLite and two TF.js artifacts
    with their contracts, and a report that passed them."""
    from exporters.base import MNIST, Format, TensorSpec, Variant, finish_artifact

    steps = {step: {"started": "t", "finished": "t"} for step in ("train", "qat", "export", "validate")}
    data = {"path": None, "x_test_sha256": "0" * 64, "labels": list(MNIST.labels), "split": None}
    manifest = {
        "created": "t",
        "steps": steps,
        "data": data,
        "classifier": MNIST.to_dict(),
        "output_kind": "probabilities",
    }
    path.mkdir()
    (path / "manifest.json").write_text(json.dumps(manifest))
    entries = []
    for name, fmt in (("tflite-float32", Format.TFLITE), ("tfjs-float32", Format.TFJS), ("tfjs-float16", Format.TFJS)):
        directory = path / "artifacts" / name
        directory.mkdir(parents=True)
        main = "model.tflite" if fmt is Format.TFLITE else "model.json"
        (directory / main).write_bytes(name.encode() * 100)
        spec = TensorSpec([28, 28, 1], "float32")
        artifact = finish_artifact(
            directory,
            path,
            name=name,
            format=fmt,
            variant=Variant.FLOAT32,
            source="float",
            main_file=main,
            input=spec,
            output=TensorSpec([10], "float32"),
            classifier=MNIST,
        )
        figures = {"accuracy": 99.0, "reference_accuracy": 99.0, "accuracy_delta": 0.0, "agreement": 100.0}
        entries.append(
            {
                "name": name,
                "format": fmt.value,
                "variant": "float32",
                "runtime": "litert",
                "passed": True,
                "verdict": "passed",
                "error": None,
                "digest": artifact.digest,
                **figures,
            }
        )
    report = {"passed": True, "verdict": "passed", "created": "t", "artifacts": entries, "skipped": [], "breaches": []}
    (path / "report.json").write_text(json.dumps(report))


def damaged(file: str, key: str, value) -> Callable[[Path], None]:
    """A complete run whose JSON `file` has `key` (a dotted path; list indices are numbers) set to `value`, or
    removed when value is DELETE."""

    def make(path: Path) -> None:
        complete_run(path)
        data = json.loads((path / file).read_text())
        *parents, last = key.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = int(last) if isinstance(target, list) else last
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
        (path / file).write_text(json.dumps(data))

    return make


DELETE = object()
TFLITE_CONTRACT = "artifacts/tflite-float32/contract.json"
ANDROID = ["android", "{t}/run", "--app", "{t}/app", "--artifact", "tflite-float32"]
# N16, S2: retyped, missing and absurd fields of the run's JSON files; (file, key, value, commands, message)
DAMAGED: list[tuple[str, str, object, list[list[str]], str]] = [
    ("manifest.json", "steps", [], [["validate", "{t}/run"], ANDROID], "field steps must be an object, not []"),
    ("manifest.json", "classifier", "x", [["validate", "{t}/run"]], "field classifier must be an object"),
    ("manifest.json", "data", 5, [["validate", "{t}/run"]], "field data must be null or an object, not 5"),
    ("manifest.json", "steps.train", "done", [["qat", "{t}/run"]], "field steps['train'] must be an object"),
    ("manifest.json", "steps.train.finished", 1, [["qat", "{t}/run"]], "field steps['train'].finished must be"),
    ("manifest.json", "data.split", {"seed": 1}, [["validate", "{t}/run"]], "field data.split.test_fraction is"),
    ("manifest.json", "classifier.labels", ["0"] * 10, [["validate", "{t}/run"]], "field classifier.labels: "),
    ("manifest.json", "classifier.image.height", -28, [["validate", "{t}/run"]], "classifier.image.height"),
    ("manifest.json", "output_kind", "votes", [["validate", "{t}/run"]], "field output_kind must be one of"),
    ("report.json", "artifacts.0", "tflite-float32", [["report", "{t}/run"], ANDROID], "field artifacts[0] must be"),
    ("report.json", "artifacts.0.passed", "yes", [ANDROID, ["report", "{t}/run"]], "artifacts[0].passed must be true"),
    ("report.json", "artifacts.0.name", DELETE, [ANDROID], "field artifacts[0].name is missing"),
    ("report.json", "artifacts.1.accuracy", None, [["report", "{t}/run"]], "artifacts[1].accuracy must be a finite"),
    ("report.json", "artifacts.0.verdict", "sure", [ANDROID], "field artifacts[0].verdict must be one of"),
    ("report.json", "passed", "yes", [["report", "{t}/run"]], "field passed must be true or false"),
    ("report.json", "skipped", [5], [["report", "{t}/run"]], "field skipped[0] must be an object"),
    (TFLITE_CONTRACT, "input.shape", [-1, 28], [["validate", "{t}/run"], ANDROID], "field input.shape[0] must be"),
    (TFLITE_CONTRACT, "input.shape", "28x28", [["validate", "{t}/run"]], "field input.shape must be a list"),
    (TFLITE_CONTRACT, "input.dtype", "complex64", [["validate", "{t}/run"]], "field input.dtype must be one of"),
    (TFLITE_CONTRACT, "input.scale", 0.5, [["validate", "{t}/run"]], "a float32 tensor has no scale"),
    (TFLITE_CONTRACT, "labels", "0123456789", [ANDROID], "field labels: class names must be a list of strings"),
    (TFLITE_CONTRACT, "labels", list("0123456780"), [["validate", "{t}/run"]], "classes 0 and 9 are both named"),
    (TFLITE_CONTRACT, "normalization.scale", ["x"], [["validate", "{t}/run"]], "normalization.scale[0] must be"),
    (TFLITE_CONTRACT, "normalization.offset", [float("inf")], [ANDROID], "normalization.offset[0] must be a finite"),
    (TFLITE_CONTRACT, "image.channels", 2, [["validate", "{t}/run"]], "field image.channels must be 1 or 3"),
    (TFLITE_CONTRACT, "files", [], [ANDROID], "field files must be an object"),
    (TFLITE_CONTRACT, "main_file", "other.tflite", [ANDROID], "field main_file: 'other.tflite' is not one of"),
    (TFLITE_CONTRACT, "output.shape", [3], [["validate", "{t}/run"]], "field labels: 10 class names for an output"),
    (
        "artifacts/tfjs-float16/contract.json",
        "image",
        {"height": 100000, "width": 100000, "channels": 1},
        [["validate", "{t}/run"]],
        "field image declares 100000x100000x1 = 10,000,000,000 values, above edgekit's limit",
    ),
]


@pytest.mark.unit
@pytest.mark.parametrize(
    "file, key, value, commands, expect",
    DAMAGED,
    ids=[f"{file.split('/')[-1]}-{key}-{i}" for i, (file, key, *_) in enumerate(DAMAGED)],
)
def test_damaged_run_files_are_one_line_naming_file_and_field(
    tmp_path, monkeypatch, file, key, value, commands, expect
):
    app_dir = tmp_path / "app" / "app" / "src" / "main"
    app_dir.mkdir(parents=True)
    (app_dir / "AndroidManifest.xml").write_text("<manifest/>")
    for command in commands:
        shutil.rmtree(tmp_path / "run", ignore_errors=True)
        # a gate that stops leaves no report that looks current (test_trust_chain.py, S1)
        gone = (
            tuple(f"run/{f}" for f in ("report.json", "report.md", "report.html")) if command[0] == "validate" else ()
        )
        check_bad_input(
            tmp_path, command, {"run": damaged(file, key, value)}, (f"run/{file}: ", expect), monkeypatch, gone
        )


@pytest.mark.unit
def test_the_undamaged_run_is_accepted(tmp_path):
    """The run the damaged cases start from is one the readers accept: each case fails by its damage alone."""
    from toolkit.gate.trust import shippable
    from toolkit.run import Run

    complete_run(tmp_path / "run")
    run = Run.open(tmp_path / "run")
    assert [a.name for a in run.artifacts()] == ["tfjs-float16", "tfjs-float32", "tflite-float32"]
    assert shippable(run, "tflite-float32").name == "tflite-float32"


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with a digest of its content (directories by name): what must not change."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def check_bad_input(
    tmp_path: Path, args: list[str], files: dict, expect: str | tuple[str, ...], monkeypatch, gone: tuple[str, ...] = ()
) -> bool:
    """Run one bad command line (its one line must hold `expect`, or each of them) that changes no file but may
    remove those in `gone`; return whether TensorFlow was already imported before it."""
    write_npz(tmp_path / "data.npz", train=60, test=20)
    for name, make in files.items():
        make(tmp_path / name)
    monkeypatch.chdir(tmp_path)  # a default `runs/<date>` would appear here
    before = snapshot(tmp_path)
    had_tensorflow = "tensorflow" in sys.modules
    result = runner.invoke(app, [a.format(t=tmp_path, data=tmp_path / "data.npz") for a in args])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert all(text in lines[0] for text in ([expect] if isinstance(expect, str) else expect)), lines[0]
    assert "Traceback" not in result.output
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k not in gone} == {k: v for k, v in before.items() if k not in gone}
    assert after.keys() <= before.keys(), "a file was left behind"
    return had_tensorflow


@pytest.mark.unit
@pytest.mark.parametrize(
    "args, files, expect",
    [c[1:] for c in CASES if not c[0].endswith("!")],
    ids=[c[0] for c in CASES if not c[0].endswith("!")],
)
def test_bad_input_before_tensorflow(tmp_path, monkeypatch, args, files, expect):
    had_tensorflow = check_bad_input(tmp_path, args, files, expect, monkeypatch)
    if STRICT or not had_tensorflow:  # (another test in this session may have imported it already)
        assert "tensorflow" not in sys.modules


@pytest.mark.parametrize(
    "args, files, expect", [c[1:] for c in CASES if c[0].endswith("!")], ids=[c[0] for c in CASES if c[0].endswith("!")]
)
def test_bad_input_after_tensorflow(tmp_path, monkeypatch, args, files, expect):
    check_bad_input(tmp_path, args, files, expect, monkeypatch)


def test_there_are_at_least_60_cases():
    assert len(CASES) >= 60


def test_unit_cases_never_import_tensorflow():
    """The cases marked unit, alone in a fresh interpreter, with the TensorFlow check made strict."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-m", "unit", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        env={**os.environ, "EDGEKIT_STRICT_NO_TF": "1"},
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stdout[-3000:]


# ---- file systems that say no: a read-only one, and a full one ---------------------------------------------


@pytest.fixture
def mount_tmpfs(tmp_path):
    """Mount a tmpfs (root only; skipped otherwise) at tmp_path/mnt: mount(size, read_only) -> its path."""
    mounted = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        if shutil.which("mount") is None or os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


@pytest.mark.unit
def test_out_on_a_read_only_file_system(tmp_path, monkeypatch, mount_tmpfs):
    read_only = mount_tmpfs("1m", read_only=True)
    check_bad_input(
        tmp_path, ["train", "--data", "{data}", "--out", f"{read_only}/run"], {}, "not writable", monkeypatch
    )


def test_full_disk_leaves_no_half_made_run(tmp_path, monkeypatch, mount_tmpfs):
    """A 256 KB tmpfs: the manifest fits, the first epoch's checkpoint (model + optimizer, ~1 MB) does not."""
    small = mount_tmpfs("256k")
    write_npz(tmp_path / "data.npz", train=120, test=40)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["train", "--data", "data.npz", "--out", f"{small}/run", "--epochs", "1", "--validation-size", "20"]
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert "No space left on device" in lines[-1] and lines[-1].startswith("error: ")
    assert "Traceback" not in result.output
    assert list(small.iterdir()) == []
