"""Every bound on what edgekit reads (data, images, config and run files, contracts), in one place; a refusal names
the file and the limit (docs/own-model.md, "Limits")."""

from __future__ import annotations

from pathlib import Path

from toolkit.errors import InputError

# One array of a data set once decoded (an IDX file's data, an .npz member, an image folder's images together): the
# whole data set is held in memory as uint8, so this is also what a hostile file can make edgekit allocate.
MAX_DATA_BYTES = 2 * 1024**3
# Compressed data (a gzip IDX file, a compressed .npz member) that decodes to more than EXPANSION_FREE_BYTES may
# expand at most this many times: image data compresses a few times, a decompression bomb a thousand.
MAX_EXPANSION = 100
EXPANSION_FREE_BYTES = 64 * 1024**2
# What one read decompresses at a time.
CHUNK_BYTES = 16 * 1024**2
# One image of an image folder, width x height: well above any camera's photo, far below a decompression bomb.
MAX_IMAGE_PIXELS = 50_000_000
# A TOML config file.
MAX_CONFIG_BYTES = 1024**2
# manifest.json, report.json, contract.json and benchmark.json of a run.
MAX_RUN_FILE_BYTES = 64 * 1024**2
# Values in one image or tensor a contract declares (the batch dimension excluded): 4096 x 4096 x 1.
MAX_TENSOR_VALUES = 4096 * 4096


def size_text(count: int) -> str:
    """A byte count as people read it: 1 KiB, 2.5 MiB, 2 GiB."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.3g} {unit}" if unit != "bytes" else f"{count} bytes"
        value /= 1024
    raise AssertionError("unreachable")


def check_size(what: str, count: int, limit: int = MAX_DATA_BYTES) -> None:
    """Raise InputError naming `what` when `count` bytes exceed `limit` (before anything of that size is allocated)."""
    if count > limit:
        raise InputError(f"{what}: {size_text(count)}, above edgekit's limit of {size_text(limit)}")


def check_decoded(what: str, count: int, compressed: int | None = None) -> None:
    """Check data that will decode to `count` bytes from `compressed` bytes (None: stored as is) against
    MAX_DATA_BYTES and MAX_EXPANSION, before it is decoded."""
    check_size(what, count)
    if compressed is not None and count > max(EXPANSION_FREE_BYTES, MAX_EXPANSION * compressed):
        raise InputError(
            f"{what}: {size_text(count)} from {size_text(compressed)} compressed, an expansion above edgekit's "
            f"limit of {MAX_EXPANSION}x for data over {size_text(EXPANSION_FREE_BYTES)} (a decompression bomb?)"
        )


def read_capped(path: Path, limit: int, what: str = "") -> bytes:
    """A file's bytes, reading at most `limit` + 1 of them (a FIFO or /dev/zero ends there), or InputError.

    OSError is left to the caller, which knows what the file is for.
    """
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{what or path}: larger than edgekit's limit of {size_text(limit)} for this file")
    return data
