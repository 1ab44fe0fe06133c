"""A corpus of small user models built here (no downloads) in the layer families of mobile networks, each with
synthetic data it learns in seconds, for `edgekit export --model M --data D`.

`uv run python tests/corpus.py OUT [--edgekit CMD]` exports and gates every model into OUT with the checkout's
edgekit (or CMD, e.g. an installed wheel's `edgekit`) and prints the table in docs/own-model.md;
tests/test_corpus.py runs the same in CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import shlex
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    families: str
    input_shape: tuple[int, ...]
    classes: int
    logits: bool
    data: str  # key of DATASETS
    build: Callable  # (keras module, input shape, classes, logits) -> model
    options: tuple[str, ...] = ()  # extra `edgekit export` options
    keras3: bool = False


# (image shape, classes, train images, test images, file form): synthetic class templates plus noise. 4,000 test
# images: fewer cannot show a float32 artifact's drop of 0.27 points, so its verdict could only be INCONCLUSIVE.
TEST_IMAGES = 4000
DATASETS = {
    "digits28": ((28, 28, 1), 10, 1500, TEST_IMAGES, "idx"),
    "rgb32x10": ((32, 32, 3), 10, 1500, TEST_IMAGES, "npz"),
    "rgb32x43": ((32, 32, 3), 43, 2580, TEST_IMAGES, "npz"),
    "rgb96x2": ((96, 96, 3), 2, 400, TEST_IMAGES, "folder"),  # PNG files under train/<class>/ and test/<class>/
}


def make_images(shape, classes: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images of `classes` templates (fixed per data set) with pixel noise; balanced labels.

    A template is a blocky pattern over a class colour (grey level), so both a flattening head (the pattern) and a
    global-pooling head (the colour) can learn it in a few epochs.
    """
    height, width, channels = shape
    rng = np.random.default_rng(1234 + classes)
    blocks = np.kron(rng.random((classes, height // 4, width // 4, channels)), np.ones((1, 4, 4, 1)))
    colours = rng.permutation(classes)[:, None] / (classes - 1) if channels == 1 else rng.random((classes, channels))
    templates = 0.4 * blocks + 0.6 * colours[:, None, None, :]
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % classes
    rng.shuffle(labels)
    images = templates[labels] * 190 + rng.random((count, height, width, channels)) * 65
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_dataset(key: str, directory: Path) -> Path:
    """Write one data set in its file form (IDX .gz files, .npz, or PNG folder) and return the path to pass."""
    shape, classes, train, test, form = DATASETS[key]
    x_train, y_train = make_images(shape, classes, train, seed=1)
    x_test, y_test = make_images(shape, classes, max(test, 1), seed=2)
    if form == "idx":
        from toolkit.data.datasets import IDX_FILES

        path = directory / key
        path.mkdir(parents=True)
        for name, array in (
            ("x_train", x_train[..., 0]),
            ("y_train", y_train),
            ("x_test", x_test[..., 0]),
            ("y_test", y_test),
        ):
            _write_idx(path / IDX_FILES[name], array)
        return path
    if form == "npz":
        path = directory / f"{key}.npz"
        names = np.array([f"sign-{k:02d}" for k in range(classes)])
        np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, class_names=names)
        return path
    from PIL import Image

    path = directory / key
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        for k, name in enumerate(("cat", "dog")[:classes]):
            (path / part / name).mkdir(parents=True)
            for i in np.flatnonzero(y == k):
                Image.fromarray(x[i]).save(path / part / name / f"{i:04d}.png", compress_level=1)
    return path


def training_arrays(key: str) -> tuple[np.ndarray, np.ndarray]:
    shape, classes, train, _, _ = DATASETS[key]
    return make_images(shape, classes, train, seed=1)


# --- the models --------------------------------------------------------------------------------------------------


def _head(keras, x, classes, logits):
    return keras.layers.Dense(classes, activation=None if logits else "softmax")(x)


def dw_separable(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.DepthwiseConv2D(3, padding="same")(inputs)
    x = layers.Conv2D(8, 1)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(16, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def flat_dense(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def gray_strided(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Reshape((*shape, 1))(inputs)
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)  # after the activation
    x = layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def _hard_swish(keras, x):
    """x * relu6(x + 3) / 6 from built-in layers only (no Lambda: a file must carry no Python code)."""
    layers = keras.layers
    gate = layers.Rescaling(1 / 6)(layers.ReLU(6.0)(layers.Rescaling(1.0, offset=3.0)(x)))
    return layers.Multiply()([x, gate])


def relu6_hard_swish(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)  # before the activation
    x = layers.ReLU(6.0)(x)
    x = layers.Conv2D(24, 3, strides=2, padding="same")(x)
    x = _hard_swish(keras, x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def residual(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    y = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(16, 3, padding="same")(y)
    x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def squeeze_excite(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    s = layers.GlobalAveragePooling2D()(x)
    s = layers.Dense(8, activation="relu")(s)
    s = layers.Dense(32, activation="sigmoid")(s)
    x = layers.Multiply()([x, layers.Reshape((1, 1, 32))(s)])
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def rescaling_inside(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)  # the model takes raw pixels 0..255
    x = layers.Conv2D(8, 5, strides=4, activation="relu")(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def normalization_inside(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Normalization(mean=[0.5] * shape[-1], variance=[0.08] * shape[-1])(inputs)
    x = layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def multi_branch(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    branches = [layers.Conv2D(6, k, padding="same", activation="relu")(inputs) for k in (1, 3, 5)]
    x = layers.Concatenate()(branches)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def mobile_block(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU(6.0)(x)
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU(6.0)(x)
    x = layers.Conv2D(24, 1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


def keras3_separable(keras, shape, classes, logits):
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.SeparableConv2D(16, 3, strides=2, padding="same", activation="hard_swish")(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu6")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(keras, x, classes, logits))


CORPUS = [
    Entry(
        "dw-separable-28",
        "DepthwiseConv2D, SeparableConv2D, BatchNorm before ReLU, MaxPooling, Flatten",
        (28, 28, 1),
        10,
        False,
        "digits28",
        dw_separable,
    ),
    Entry("flat-dense-784", "Dense, Dropout on flattened pixels", (784,), 10, True, "digits28", flat_dense),
    Entry(
        "gray-strided-28x28",
        "(H, W) input, Reshape, strided Conv2D, BatchNorm after ReLU",
        (28, 28),
        10,
        False,
        "digits28",
        gray_strided,
    ),
    Entry(
        "concat-branches-28",
        "multi-branch Concatenate (1x1, 3x3, 5x5), MaxPooling, Dropout",
        (28, 28, 1),
        10,
        True,
        "digits28",
        multi_branch,
    ),
    Entry(
        "keras3-separable-28",
        "Keras 3 file: SeparableConv2D with hard-swish, ReLU6, BatchNorm",
        (28, 28, 1),
        10,
        False,
        "digits28",
        keras3_separable,
        keras3=True,
    ),
    Entry(
        "relu6-hswish-32",
        "strided Conv2D, BatchNorm before ReLU6, hard-swish (Rescaling, ReLU6, Multiply)",
        (32, 32, 3),
        43,
        True,
        "rgb32x43",
        relu6_hard_swish,
    ),
    Entry(
        "squeeze-excite-32",
        "squeeze-and-excitation (global pooling, Dense, Multiply)",
        (32, 32, 3),
        43,
        False,
        "rgb32x43",
        squeeze_excite,
    ),
    Entry(
        "residual-32",
        "residual Add, global max pooling",
        (32, 32, 3),
        10,
        False,
        "rgb32x10",
        residual,
        ("--normalization", "symmetric"),
    ),
    Entry(
        "normalization-32",
        "Normalization layer inside the model",
        (32, 32, 3),
        10,
        True,
        "rgb32x10",
        normalization_inside,
    ),
    Entry(
        "rescaling-96",
        "Rescaling inside (raw pixels in), strided Conv2D",
        (96, 96, 3),
        2,
        False,
        "rgb96x2",
        rescaling_inside,
        ("--normalization", "raw"),
    ),
    Entry(
        "mobilenet-block-96",
        "MobileNet block: Conv-BN-ReLU6, DepthwiseConv2D-BN-ReLU6, pointwise, Dropout",
        (96, 96, 3),
        2,
        True,
        "rgb96x2",
        mobile_block,
        ("--normalization", "mean_std", "--mean", "0.5", "--std", "0.25"),
    ),
]


# What CI runs of the corpus, one model per file form (IDX, .npz, PNG folder) and a Keras 3 file: the whole corpus
# takes longer than CI's budget at 4,000 test images each. EDGEKIT_FULL_CORPUS=1 (or `python tests/corpus.py OUT`)
# runs every model.
IN_CI = ("dw-separable-28", "keras3-separable-28", "residual-32", "rescaling-96")


def chosen(names: tuple[str, ...] = IN_CI, full: tuple[str, ...] | None = None) -> list[Entry]:
    """The corpus entries a test run takes: `names`, or with EDGEKIT_FULL_CORPUS=1 those in `full` (all: None)."""
    if os.environ.get("EDGEKIT_FULL_CORPUS") == "1":
        names = full or tuple(e.name for e in CORPUS)
    return [e for e in CORPUS if e.name in names]


def _model_inputs(entry: Entry, x: np.ndarray) -> np.ndarray:
    """The training inputs as the declared normalization makes them, shaped for the model."""
    from exporters.base import Normalization

    options = list(entry.options)
    kind = options[options.index("--normalization") + 1] if "--normalization" in options else "unit"
    mean = [float(options[options.index("--mean") + 1])] if "--mean" in options else None
    std = [float(options[options.index("--std") + 1])] if "--std" in options else None
    return Normalization.declare(kind, mean, std).apply(x).reshape((len(x), *entry.input_shape))


def train_and_save(entry: Entry, directory: Path, epochs: int = 12) -> Path:
    """Build the entry's model, fit it briefly on its data set's training images, save it; return the file.

    Batches of 32 give ~280 steps: enough for BatchNorm's moving statistics (momentum 0.99) to settle, without
    which a model is far worse at inference than in training and its quantized copies flip many predictions.
    """
    if entry.keras3:
        import keras
    else:
        import tf_keras as keras
    keras.utils.set_random_seed(7)
    x, y = training_arrays(entry.data)
    model = entry.build(keras, entry.input_shape, entry.classes, entry.logits)
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=entry.logits))
    model.fit(_model_inputs(entry, x), y.astype(np.int64), epochs=epochs, batch_size=32, verbose=0)
    path = directory / f"{entry.name}.{'keras' if entry.keras3 else 'h5'}"
    model.save(path)
    return path


RUNTIME_COLUMNS = ("litert", "tfjs-node-wasm", "tfjs-chromium-wasm")


def table_row(entry: Entry, report: dict) -> str:
    """One README row: per runtime, gated evaluations passed / made."""
    cells = []
    for runtime in RUNTIME_COLUMNS:
        rows = [a for a in report["artifacts"] if a["runtime"] == runtime]
        cells.append(f"{sum(a['passed'] for a in rows)}/{len(rows)}")
    shape = "x".join(map(str, entry.input_shape)) if len(entry.input_shape) > 1 else f"({entry.input_shape[0]},)"
    head = "logits" if entry.logits else "softmax"
    return f"| {entry.name} | {entry.families} | {shape} | {entry.classes} {head} | {' | '.join(cells)} |"


def export_entry(
    entry: Entry, out: Path, data: Path, edgekit: list[str], env: dict | None = None
) -> tuple[subprocess.CompletedProcess, dict]:
    """Train and save the entry's model, then `edgekit export --model M --data D` it (a real process, as a user
    runs it) into out/run-NAME. Returns the finished process and the run's report.json ({} when none was written).
    """
    model = train_and_save(entry, out)
    run = out / f"run-{entry.name}"
    command = [*edgekit, "export", "--model", str(model), "--data", str(data), "--out", str(run), *entry.options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env, cwd=out)
    report = json.loads((run / "report.json").read_text()) if (run / "report.json").is_file() else {}
    return done, report


TABLE_HEAD = [
    "| model | layer families | input | classes | LiteRT | Node (wasm) | Chromium (wasm) |",
    "|---|---|---|---|---:|---:|---:|",
]


def main(out: Path, edgekit: list[str]) -> int:
    """Export and gate every corpus model with `edgekit`; print the table; exit 1 if any failed."""
    out.mkdir(parents=True, exist_ok=True)
    data = {key: write_dataset(key, out) for key in DATASETS}
    lines = list(TABLE_HEAD)
    failed = 0
    for entry in CORPUS:
        done, report = export_entry(entry, out, data[entry.data], edgekit)
        row = table_row(entry, report or {"artifacts": []})
        lines.append(row)
        tail = done.stderr.strip().splitlines()[-1:] if done.returncode else ""
        print(row, f"(exit {done.returncode}: {tail})" if done.returncode else "", flush=True)
        failed += done.returncode != 0
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import toolkit  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)

    parser = argparse.ArgumentParser(description="Export and gate the corpus of user models; print the table.")
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--edgekit", default=f"{sys.executable} -m toolkit", help="the edgekit command (e.g. an installed wheel's)"
    )
    args = parser.parse_args()
    sys.exit(main(args.out, shlex.split(args.edgekit)))
