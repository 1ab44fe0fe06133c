"""A folder of images with one subfolder per class (PNG/JPEG), read by Keras' own directory loader, and the
seeded stratified test split made when the folder has no `train/` and `test/` of its own."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from toolkit.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
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


def _first_image(directory: Path) -> Path:
    for folder in sorted(d for d in directory.iterdir() if d.is_dir()):
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                return file
    raise InputError(f"{directory}: no PNG or JPEG images in class subfolders")


def _read(directory: Path, size: tuple[int, int], color_mode: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """uint8 images (N, H, W, C) in file order, int labels, class names (sorted subfolder names)."""
    import tf_keras as keras

    try:
        # Keras prints "Found N files belonging to K classes." at every load (each step loads the data again).
        with contextlib.redirect_stdout(io.StringIO()):
            dataset = keras.utils.image_dataset_from_directory(
                directory, label_mode="int", color_mode=color_mode, image_size=size, batch_size=None, shuffle=False
            )
    except (ValueError, OSError) as error:
        raise InputError(f"{directory}: cannot read the image folder ({error})") from None
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(np.clip(np.round(image), 0, 255).astype(np.uint8))
        labels.append(label)
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
    """
    from PIL import Image, UnidentifiedImageError

    given = (path / "train").is_dir() and (path / "test").is_dir()
    first = _first_image(path / "train" if given else path)
    try:
        with Image.open(first) as image:
            size, mode = (image.height, image.width), image.mode
    except (OSError, UnidentifiedImageError) as error:
        raise InputError(f"{first}: not a readable image ({error})") from None
    color_mode = "grayscale" if mode in ("L", "1", "I;16", "I") else "rgb"
    if given:
        x_train, y_train, names = _read(path / "train", size, color_mode)
        x_test, y_test, test_names = _read(path / "test", size, color_mode)
        if test_names != names:
            raise InputError(f"{path}: train/ has classes {names}, test/ has {test_names}")
        return x_train, y_train, x_test, y_test, names, None
    x, y, names = _read(path, size, color_mode)
    test = stratified_split(y, test_fraction, seed)
    train = np.setdiff1d(np.arange(len(y)), test)
    split = {"test_fraction": test_fraction, "seed": seed, "test_indices": len(test)}
    return x[train], y[train], x[test], y[test], names, split
