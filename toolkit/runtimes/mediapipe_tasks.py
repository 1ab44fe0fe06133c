"""Pixels artifacts in MediaPipe Tasks' ImageClassifier (the `mediapipe` Python package), as an app runs them:
the test set as PNG files, each decoded by MediaPipe and classified, in MediaPipe's own environment."""

from __future__ import annotations

import json
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format, TensorSpec
from toolkit.errors import InputError, StepError
from toolkit.pixels.tensors import to_model_input
from toolkit.runtimes.base import Runtime, by_input, predict_one
from toolkit.web import mediapipe_env

NAME = "mediapipe"
METADATA_NAME = b"TFLITE_METADATA"
# Per model: start-up (importing mediapipe takes seconds) plus a generous time per picture (docs/verdict.md).
TIMEOUT_S, TIMEOUT_PER_IMAGE_S = 120, 0.02


def unavailable() -> str | None:
    """Why MediaPipe cannot run here: its environment cannot be made (made now on first use, saying its size)."""
    try:
        mediapipe_env.locate()
    except InputError as error:
        return f"not verified: {error}"
    return None


def _has_metadata(path: Path) -> bool:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    return any(model.Metadata(i).Name() == METADATA_NAME for i in range(model.MetadataLength()))


def takes(artifact: Artifact) -> bool:
    """Only the pixels artifacts are made for the Tasks API: it refuses one-channel inputs and int8 tensors, and
    applies no softmax."""
    return artifact.pixels is not None


class MediaPipePredictor:
    runtime = NAME

    def __init__(self, artifact_dir: Path, artifact: Artifact):
        self.model = Path(artifact_dir).resolve() / artifact.main_file
        self.artifact = artifact
        if not _has_metadata(self.model):  # written at export where MediaPipe's environment could be made
            raise StepError(
                f"{NAME}: {artifact.name} carries no TFLite Metadata, which MediaPipe needs: export it again"
            )
        self.last_run: dict = {}

    def predict(self, images: np.ndarray) -> np.ndarray:
        return predict_one(predict_many, self, images)


def png(rgb: np.ndarray) -> bytes:
    """A picture (H, W, 3) uint8 as an 8-bit RGB PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width = rgb.shape[:2]
    rows = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(rgb, np.uint8))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


def predict_many(predictors: list[MediaPipePredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    """Classify every picture with every model in one process of MediaPipe's environment. Returns each model's
    scores (its probabilities, label order), or the error MediaPipe gave for it, in the order given."""
    if not predictors:
        return []
    classifier = predictors[0].artifact.classifier
    pixels = to_model_input(images, classifier, TensorSpec(list(classifier.image.shape), "float32"))  # raw RGB
    with tempfile.TemporaryDirectory(prefix="edgekit-mediapipe-") as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i, picture in enumerate(pixels):
            (folder / f"{i:07d}.png").write_bytes(png(np.round(picture).astype(np.uint8)))
        jobs = Path(tmp) / "jobs.json"
        outs = [Path(tmp) / f"{i}.npy" for i in range(len(predictors))]
        jobs.write_text(
            json.dumps(
                {
                    "images": str(folder),
                    "models": [[str(p.model), str(o)] for p, o in zip(predictors, outs, strict=True)],
                }
            )
        )
        timeout = (TIMEOUT_S + TIMEOUT_PER_IMAGE_S * len(pixels)) * len(predictors)
        try:
            done = mediapipe_env.run_script("classify.py", [str(jobs)], timeout)
        except subprocess.TimeoutExpired:
            raise StepError(f"{NAME}: took longer than {timeout:.0f} s") from None
        except InputError as error:
            raise StepError(f"{NAME}: {error}") from None
        summaries = {s["model"]: s for s in map(json.loads, (x for x in done.stdout.splitlines() if x.startswith("{")))}
        results: list[np.ndarray | Exception] = []
        for predictor, out in zip(predictors, outs, strict=True):
            summary = summaries.get(str(predictor.model))
            if summary is None or "error" in summary:
                lines = done.stderr.strip().splitlines()
                detail = summary["error"] if summary else (lines[-1] if lines else "no output")
                results.append(StepError(f"{NAME}: {predictor.artifact.name}: {detail}"))
                continue
            predictor.last_run = {"count": summary["images"], "seconds": summary["seconds"]}
            results.append(np.load(out).astype(np.float32))
    return results


def load(artifact_dir: Path, artifact: Artifact) -> MediaPipePredictor:
    return MediaPipePredictor(artifact_dir, artifact)


# Not in the default gate (chosen with --targets mediapipe, or `all`): it doubled the default gate's wall clock on a
# loaded 2-core machine (docs/performance.md, "The gate's wall clock").
RUNTIME = Runtime(NAME, (Format.TFLITE,), unavailable, load, by_input(predict_many), takes=takes, default=False)
