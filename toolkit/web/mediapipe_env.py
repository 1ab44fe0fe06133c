"""MediaPipe's own Python environment: made on first use with uv from the hashed requirements shipped in the package
and cached beside the npm cache, since mediapipe cannot install beside edgekit's locked stack (docs/verdict.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from exporters.base import Artifact, describe_files, write_contract
from toolkit.errors import InputError, StepError
from toolkit.web.assets import cache_root

if TYPE_CHECKING:
    from toolkit.run import Run

SCRIPTS = Path(__file__).resolve().parent / "mediapipe"  # run by the environment's Python, never imported here
REQUIREMENTS = SCRIPTS / "requirements.txt"
# What `uv pip install` of the requirements writes (files hard-linked from uv's cache where it can), for the message
# before it starts (docs/verdict.md, "The mediapipe runtime").
INSTALL_MB = 600
INSTALL_TIMEOUT_S = 900
METADATA_TIMEOUT_S = 300
DONE = ".edgekit-complete"
REMEDY = "install uv (`pip install uv`) and give edgekit access to PyPI once"


def root() -> Path:
    """The environment's directory: one per requirements file, so another release gets one of its own."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    return cache_root() / f"mediapipe-{digest}"


def python(directory: Path | None = None) -> Path:
    return (directory or root()) / "bin" / "python"


def ready() -> bool:
    return (root() / DONE).is_file() and python().exists()


def missing() -> str | None:
    """Why the environment cannot be made here, or None (it may still need its first-use install)."""
    if ready():
        return None
    if not REQUIREMENTS.is_file():
        return f"MediaPipe's requirements are not in this installation ({REQUIREMENTS} is missing)"
    if shutil.which("uv") is None:
        return f"uv not found on PATH: it makes MediaPipe's environment on first use ({REMEDY})"
    return None


def locate(progress: Callable[[str], None] | None = None) -> Path:
    """The environment's Python, making the environment on first use (it says its size before it starts).

    Raises:
        InputError: it cannot be made here (the message says why and what to do).
    """
    reason = missing()
    if reason:
        raise InputError(reason)
    if not ready():  # the console's own log line, as every step's (stdout)
        install(root(), progress or logging.getLogger("edgekit").info)
    return python()


def install(target: Path, progress: Callable[[str], None]) -> None:
    """`uv venv` and `uv pip install --require-hashes` in a temporary sibling renamed to `target` when complete, so a
    killed install leaves nothing that looks ready; a concurrent install that finished first wins.

    Raises:
        InputError: uv failed or took too long (its last line is in the message).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob("mediapipe-*.partial-*"):  # left by a killed install, older than any live one
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > INSTALL_TIMEOUT_S:
                shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=target.parent))
    progress(f"Making MediaPipe's Python environment (first use only: about {INSTALL_MB} MB) in {target} ...")
    started = time.monotonic()
    try:
        _uv(["venv", "--quiet", "--allow-existing", "--python", sys.executable, str(staging)])
        _uv(
            ["pip", "install", "--quiet", "--python", str(python(staging)), "--require-hashes", "-r", str(REQUIREMENTS)]
        )
        (staging / DONE).write_text("ok\n")
        progress(f"Made it in {time.monotonic() - started:.0f} s.")
        try:
            staging.rename(target)
        except OSError:
            if not ready():
                raise
        else:
            staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _uv(arguments: list[str]) -> None:
    try:
        done = subprocess.run(
            ["uv", *arguments], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise InputError(
            f"uv {arguments[0]} took longer than {INSTALL_TIMEOUT_S} s making MediaPipe's environment"
        ) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise InputError(f"uv {arguments[0]} failed making MediaPipe's environment: {lines[-1] if lines else '?'}")


def run_script(name: str, arguments: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run one of edgekit's scripts for the environment (`SCRIPTS/name`) with its Python; the caller reads the
    result. Raises InputError when the environment cannot be made, subprocess.TimeoutExpired past `timeout`."""
    return subprocess.run(
        [str(locate()), str(SCRIPTS / name), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def metadata_info(artifact: Artifact, provenance: dict[str, str]) -> dict:
    """What the TFLite Metadata of `artifact` says, from its contract and the run (`provenance`: run, version,
    author): name, description, version, author, the input's normalization, the output kind and the labels."""
    classifier = artifact.classifier
    image, norm = classifier.image, classifier.normalization
    if artifact.pixels is not None:
        feeds = "RGB pixels 0..255 as decoded, batch 1: gray conversion, normalization and softmax are inside"
    else:
        feeds = f"{'RGB' if image.channels == 3 else 'gray'} pixels normalized ({norm.kind}): (pixel - mean) / std"
    return {
        "name": f"{provenance['run']}/{artifact.name}",
        "description": (
            f"Image classifier of {image.height}x{image.width}x{image.channels} pictures into {len(classifier.labels)} "
            f"classes; {artifact.variant.value} TFLite exported by edgekit. Input: {feeds}. Output: "
            f"{classifier.output_kind}. Its contract.json says the same."
        ),
        "version": provenance["version"],
        "author": provenance["author"],
        "scale": list(norm.scale),
        "offset": list(norm.offset),
        "channels": image.channels,
        "output_kind": classifier.output_kind,
        "labels": list(classifier.labels),
        "input_description": feeds,
    }


def write_metadata(items: list[tuple[Path, Artifact]], provenance: dict[str, str]) -> list[Artifact]:
    """Embed TFLite Metadata in the main file of each (artifact directory, TFLite artifact), in one process of
    MediaPipe's environment, and write each contract again with the new hashes.

    Raises:
        InputError: the environment cannot be made here.
        StepError: the writer failed (its last line is in the message).
    """
    if not items:
        return []
    with tempfile.TemporaryDirectory(prefix="edgekit-metadata-") as tmp:
        jobs = Path(tmp) / "jobs.json"
        jobs.write_text(
            json.dumps([{"model": str(d / a.main_file), "info": metadata_info(a, provenance)} for d, a in items])
        )
        try:
            done = run_script("metadata.py", ["write", str(jobs)], METADATA_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise StepError(f"writing TFLite Metadata took longer than {METADATA_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise StepError(f"writing TFLite Metadata failed: {lines[-1] if lines else 'no output'}")
    written = []
    for directory, artifact in items:
        artifact = dataclasses.replace(artifact, files=describe_files(directory))
        write_contract(artifact, directory)
        written.append(artifact)
    return written


def embed(run: Run, items: list[tuple[Path, Artifact]]) -> list[Artifact]:
    """`write_metadata` with the run's name, creation time and edgekit's version; the artifacts as they are (and a
    warning why) where MediaPipe's environment, which writes it, cannot be made here."""
    import toolkit

    provenance = {
        "run": run.path.name,
        "version": str(run.manifest.get("created")),
        "author": f"edgekit {toolkit.__version__}",
    }
    try:
        written = write_metadata(items, provenance)
    except InputError as error:
        logging.getLogger("edgekit").warning("the .tflite files carry no TFLite Metadata: %s", error)
        return [artifact for _, artifact in items]
    logging.getLogger("edgekit").info("wrote TFLite Metadata into %d .tflite file(s)", len(written))
    return written


def read_metadata(model: Path) -> dict:
    """What the TFLite Metadata embedded in `model` says (metadata.py's `read`), read in MediaPipe's environment.

    Raises:
        InputError: the environment cannot be made here. StepError: the file carries none, or the reader failed.
    """
    done = run_script("metadata.py", ["read", str(model)], METADATA_TIMEOUT_S)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise StepError(f"reading the TFLite Metadata of {model} failed: {lines[-1] if lines else 'no output'}")
    return json.loads(done.stdout)
