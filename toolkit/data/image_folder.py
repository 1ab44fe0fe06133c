"""A folder of images with one subfolder per class (PNG/JPEG), every file checked with PIL and then read by Keras' own
directory loader, and the seeded stratified test split made when the folder has no `train/` and `test/` of its own."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from exporters.base import check_labels
from toolkit.errors import InputError, first_line
from toolkit.limits import MAX_IMAGE_PIXELS, check_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# What Keras' directory loader reads (tf_keras image_dataset_from_directory), at any depth under a class folder:
# every such file is checked before Keras opens any.
LOADER_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 42


def is_image_folder(path: Path) -> bool:
    """A directory whose subfolders hold images (directly, or under train/ and test/)."""
    roots = [path / "train"] if (path / "train").is_dir() else [path]
    return any(
        f.suffix.lower() in IMAGE_SUFFIXES for root in roots for d in root.iterdir() if d.is_dir() for f in d.iterdir()
    )


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a held-out test set: `test_fraction` of every class (at least one image), chosen by `seed`.

    The same labels, fraction and seed always give the same indices, so later steps reload the same split.
    """
    if not 0 < test_fraction < 1:
        raise InputError(f"test fraction {test_fraction} must be between 0 and 1")
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            raise InputError(f"class {label} has {len(members)} image(s): a train/test split needs at least 2")
        count = min(len(members) - 1, max(1, round(len(members) * test_fraction)))
        test.append(rng.choice(members, count, replace=False))
    return np.sort(np.concatenate(test))


def _class_files(root: Path, folder: Path, seen: set[Path]) -> Iterator[Path]:
    """The files Keras will read under one class folder, in its order; a symlink that leaves `root` is refused."""
    for entry in sorted(folder.iterdir()):
        real = entry.resolve()
        if not real.is_relative_to(root):
            raise InputError(f"{entry}: a symbolic link to {real}, outside the image folder {root}")
        if entry.is_dir():
            if real not in seen:  # a link back into the folder is read once, and never loops
                seen.add(real)
                yield from _class_files(root, entry, seen)
        elif entry.name.lower().endswith(LOADER_SUFFIXES):
            yield entry


def _check_image(file: Path) -> tuple[int, int, str]:
    """(height, width, mode) of an image PIL decodes whole, within the pixel limit; else InputError naming it."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            height, width, mode = image.height, image.width, image.mode
            if height * width > MAX_IMAGE_PIXELS:
                raise InputError(
                    f"{file}: {width}x{height} pixels, above edgekit's limit of {MAX_IMAGE_PIXELS:,} pixels per image"
                )
            image.load()  # decodes every pixel: a truncated or corrupt file fails here, not inside Keras
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"{file}: above edgekit's limit of {MAX_IMAGE_PIXELS:,} pixels per image") from None
    except Exception as error:  # PIL's decoders raise OSError, SyntaxError, ValueError, struct.error... on bad data
        raise InputError(f"{file}: not a readable image ({first_line(error)})") from None
    return height, width, mode


def check_folder(directory: Path) -> tuple[list[str], list[Path]]:
    """Check every image Keras will read from `directory` (one subfolder per class): class names, PIL-decodable
    images within the pixel limit, no symlink out, no empty class. Returns (class names, files in Keras' order)."""
    root = directory.resolve()
    classes = [d for d in sorted(directory.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    if not classes:
        raise InputError(f"{directory}: no class subfolders")
    files = []
    for folder in classes:
        if not folder.resolve().is_relative_to(root):
            raise InputError(f"{folder}: a symbolic link to {folder.resolve()}, outside the image folder {root}")
        mine = list(_class_files(root, folder, {folder.resolve()}))
        if not mine:
            raise InputError(f"{folder}: an empty class folder (no {', '.join(LOADER_SUFFIXES)} images)")
        files += mine
    try:
        check_labels([d.name for d in classes])
    except ValueError as error:
        raise InputError(f"{directory}: {error}") from None
    for file in files:
        _check_image(file)
    return [d.name for d in classes], files


def _first_image(directory: Path) -> Path:
    for folder in sorted(d for d in directory.iterdir() if d.is_dir()):
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                return file
    raise InputError(f"{directory}: no PNG or JPEG images in class subfolders")


def _read(directory: Path, size: tuple[int, int], color_mode: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """uint8 images (N, H, W, C) in file order, int labels, class names (sorted subfolder names)."""
    import tensorflow as tf
    import tf_keras as keras

    try:
        # Keras prints "Found N files belonging to K classes." at every load (each step loads the data again).
        with contextlib.redirect_stdout(io.StringIO()):
            dataset = keras.utils.image_dataset_from_directory(
                directory, label_mode="int", color_mode=color_mode, image_size=size, batch_size=None, shuffle=False
            )
        images, labels = [], []
        for image, label in dataset.as_numpy_iterator():
            images.append(np.clip(np.round(image), 0, 255).astype(np.uint8))
            labels.append(label)
    except (ValueError, OSError, tf.errors.OpError) as error:  # what PIL read but TensorFlow's decoders do not
        raise InputError(f"{directory}: cannot read the image folder ({first_line(error)})") from None
    if not images:
        raise InputError(f"{directory}: no images")
    return np.stack(images), np.asarray(labels, np.int64), list(dataset.class_names)


def load_image_folder(path: Path, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = DEFAULT_SPLIT_SEED):
    """Read `path` as a classification data set.

    Args:
        path: `path/train/<class>/*.png` and `path/test/<class>/*.png`, or `path/<class>/*.png` (then a stratified
            `test_fraction` is held out with `seed`). Every image is resized to the first image's size; grayscale
            first image -> one channel, else RGB.

    Returns:
        (x_train, y_train, x_test, y_test, class names, split record or None when the folder has its own split).

    Raises:
        InputError: naming the file or folder: an unreadable, truncated or oversized image, a symbolic link out of
            the folder, an empty class folder, train/ and test/ with other classes, or images too many to hold.
    """
    given = (path / "train").is_dir() and (path / "test").is_dir()
    parts = [path / "train", path / "test"] if given else [path]
    found = [check_folder(part) for part in parts]  # before Keras (and TensorFlow) opens any file
    if given and found[0][0] != found[1][0]:
        raise InputError(f"{path}: train/ has classes {found[0][0]}, test/ has {found[1][0]}")
    first = _first_image(parts[0])
    height, width, mode = _check_image(first)
    color_mode = "grayscale" if mode in ("L", "1", "I;16", "I") else "rgb"
    count = sum(len(files) for _, files in found)
    channels = 1 if color_mode == "grayscale" else 3
    check_size(
        f"{path}: {count} images of {width}x{height}x{channels} (the first image's size)",
        count * math.prod((height, width, channels)),
    )
    if given:
        x_train, y_train, names = _read(path / "train", (height, width), color_mode)
        x_test, y_test, _ = _read(path / "test", (height, width), color_mode)
        return x_train, y_train, x_test, y_test, names, None
    x, y, names = _read(path, (height, width), color_mode)
    test = stratified_split(y, test_fraction, seed)
    train = np.setdiff1d(np.arange(len(y)), test)
    split = {"test_fraction": test_fraction, "seed": seed, "test_indices": len(test)}
    return x[train], y[train], x[test], y[test], names, split
