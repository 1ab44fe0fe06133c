"""MediaPipe Tasks' ImageClassifier over encoded pictures, as an app runs it: the runner of the `mediapipe` runtime.

Runs in MediaPipe's environment (toolkit/web/mediapipe_env.py):

    python classify.py JOBS.json     JOBS: {"images": DIR, "models": [[MODEL.tflite, OUT.npy], ...]}

DIR holds PNG files, read in name order, each decoded by MediaPipe's own `Image.create_from_file` and handed to
`ImageClassifier.classify` unchanged. OUT.npy: (N, K) float32 scores by category index (= label order). One JSON line
per model on stdout: images, seconds in classify(), mediapipe's version, or "error" with the Tasks API's message.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def classify_all(model: Path, files: list[Path]) -> tuple[np.ndarray, float]:
    """(scores (N, K) by category index, seconds spent in classify()) of every picture file."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import ImageClassifier, ImageClassifierOptions, RunningMode

    options = ImageClassifierOptions(
        base_options=BaseOptions(model_asset_buffer=model.read_bytes()),
        running_mode=RunningMode.IMAGE,
        max_results=-1,  # every category
        score_threshold=float("-inf"),  # every score (the binding sends None as 0.0, a threshold of its own)
    )
    rows, spent = [], 0.0
    classifier = ImageClassifier.create_from_options(options)
    try:
        for path in files:
            image = mp.Image.create_from_file(str(path))
            start = time.perf_counter()
            result = classifier.classify(image)
            spent += time.perf_counter() - start
            categories = result.classifications[0].categories
            row = np.full(max(c.index for c in categories) + 1, np.nan, np.float32)
            for category in categories:
                row[category.index] = category.score
            rows.append(row)
    finally:
        classifier.close()  # without it, its __del__ raises at interpreter exit
    width = max(len(row) for row in rows)
    return np.stack([np.pad(row, (0, width - len(row)), constant_values=np.nan) for row in rows]), spent


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    import mediapipe as mp

    spec = json.loads(Path(sys.argv[1]).read_text())
    files = sorted(Path(spec["images"]).glob("*.png"))
    for model, out in spec["models"]:
        try:
            scores, spent = classify_all(Path(model), files)
        except (RuntimeError, ValueError) as error:  # the Tasks API refuses a model with a ValueError/RuntimeError
            print(json.dumps({"model": model, "error": str(error).splitlines()[0]}), flush=True)
            continue
        np.save(out, scores)
        summary = {"model": model, "images": len(scores), "seconds": round(spent, 3), "mediapipe": mp.__version__}
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
