"""The demo's strip of test images: a few of the run's own test images with their true labels, as PNGs made when the
server starts (`/samples/index.json` and `/samples/<k>.png`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from toolkit.data.run_data import load_run_data
from toolkit.errors import InputError
from toolkit.run import Run
from toolkit.web.server import Entity, make_entity

__all__ = ["SAMPLE_COUNT", "pick_samples", "png_bytes", "sample_entities"]

SAMPLE_COUNT = 24
INDEX = "/samples/index.json"


def pick_samples(labels: np.ndarray, count: int = SAMPLE_COUNT) -> list[int]:
    """Test-set indices of up to `count` images: the first image of each class in label order, then the second of
    each, and so on, so that the strip shows as many classes as it can hold."""
    by_class = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    picked: list[int] = []
    for rank in range(max((len(members) for members in by_class), default=0)):
        picked += [int(members[rank]) for members in by_class if rank < len(members)]
        if len(picked) >= count:
            break
    return picked[:count]


def png_bytes(image: np.ndarray) -> bytes:
    """One uint8 picture (H, W), (H, W, 1) or (H, W, 3) as a PNG: grey or RGB, no colour profile, so the browser
    decodes exactly these pixels."""
    from PIL import Image

    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _index(run_name: str | None, note: str | None, **fields) -> dict[str, Entity]:
    document = {"run": run_name, "image": None, "background": None, "samples": [], "note": note, **fields}
    return {INDEX: make_entity(json.dumps(document).encode(), "application/json")}


def sample_entities(run_dir: Path | None, count: int = SAMPLE_COUNT) -> dict[str, Entity]:
    """URL path -> entity: `/samples/index.json` and a PNG per sample of the run's test set.

    The index is `{"run", "image", "background", "samples": [{"url", "label", "class", "test_index"}], "note"}`;
    `background` is the share of the samples' pixels at pure black or pure white (drawings have most, photos
    little), which the page uses to tell a sketch model from a grey photo model. Without a run, a recorded data set
    or data that still loads, the index has no samples and `note` says why: the demo works without them.
    """
    if run_dir is None:
        return _index(None, "no run")
    run = Run.open(run_dir)
    name = run.path.resolve().name
    if not run.data_record:
        return _index(name, "the run records no data set")
    try:
        data = load_run_data(run)
    except (InputError, OSError):
        return _index(name, "the run's test data could not be loaded")
    chosen = pick_samples(data.y_test, count)
    if not chosen:
        return _index(name, "the run's test set is empty")
    images = data.x_test[chosen]
    background = max(float(np.mean(images == 0)), float(np.mean(images == 255)))
    labels = data.labels
    entities, samples = {}, []
    for k, test_index in enumerate(chosen):
        entities[f"/samples/{k}.png"] = make_entity(png_bytes(data.x_test[test_index]), "image/png", compress=False)
        label = int(data.y_test[test_index])
        samples.append({"url": f"samples/{k}.png", "label": labels[label], "class": label, "test_index": test_index})
    image = {"height": data.image.height, "width": data.image.width, "channels": data.image.channels}
    return {**_index(name, None, image=image, background=round(background, 4), samples=samples), **entities}
