"""Pixels artifacts (fixed batch, float32 or uint8 tensors) in LiteRT.js, Google's .tflite runtime for the web:
@litertjs/core with its wasm build in a page of headless Chromium, served on loopback."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import re
import tempfile
from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.errors import InputError, StepError
from toolkit.pixels.tensors import to_model_input, to_probabilities
from toolkit.runtimes.base import Runtime, by_input, predict_one
from toolkit.runtimes.tfjs_browser import TIMEOUT_MS, launch_chromium
from toolkit.runtimes.tfjs_browser import unavailable as browser_unavailable
from toolkit.web.server import SECURITY_HEADERS

NAME = "litertjs-chromium-wasm"  # engine-backend, as the TF.js browser targets are named
PAGE = "litert-eval.html"
DATA_PREFIX, IMAGES_FILE = "eval-data", "images.f32"


def takes(artifact: Artifact) -> bool:
    """LiteRT.js refuses a free batch and int8 tensors: of edgekit's files, the pixels artifacts fit."""
    return artifact.pixels is not None


def page_policy(site: Path, page: str = PAGE, paths: tuple[str, ...] | None = None) -> dict[str, str]:
    """A page's own Content-Security-Policy (for `paths`, default /PAGE): the default one, plus its inline import
    map by sha256."""
    found = re.search(r'<script type="importmap">(.*?)</script>', (site / page).read_text(), re.S)
    if found is None:
        raise StepError(f"{NAME}: {page} holds no import map")
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "script-src 'self'", f"script-src 'self' 'sha256-{digest}'"
    )
    return {path: policy for path in (paths or (f"/{page}",))}


class LiteRTJSPredictor:
    runtime = NAME

    def __init__(self, artifact_dir: Path, artifact: Artifact):
        self.artifact_dir = Path(artifact_dir)
        self.artifact = artifact
        self.last_run: dict = {}

    def predict(self, images: np.ndarray) -> np.ndarray:
        return predict_one(predict_many, self, images)


def predict_many(predictors: list[LiteRTJSPredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    """Evaluate several artifacts (taking the same input) in one browser session, one after the other."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgekit-litertjs") as pool:
        return pool.submit(_predict_many, predictors, images).result()


def _predict_many(predictors: list[LiteRTJSPredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from toolkit.web import assets as web_assets
    from toolkit.web.server import make_static_server, running

    if not predictors:
        return []
    first = predictors[0].artifact
    model_input = to_model_input(images, first.classifier, first.input)
    count, errors, results = len(model_input), [], []
    try:
        assets = web_assets.locate()
    except InputError as error:
        raise StepError(f"{NAME}: {error}") from None
    models = {f"models/{p.artifact.name}": p.artifact_dir for p in predictors}
    with (
        tempfile.TemporaryDirectory(prefix="edgekit-litertjs-") as tmp,
        running(
            make_static_server({**assets.mounts(), **models, DATA_PREFIX: Path(tmp)}, policies=page_policy(assets.site))
        ) as base_url,
        sync_playwright() as playwright,
    ):
        model_input.astype("<f4").tofile(Path(tmp) / IMAGES_FILE)
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{base_url}{PAGE}")
            page.wait_for_function("() => window.edgekitLiteRt !== undefined")
            for predictor in predictors:
                artifact = predictor.artifact
                try:
                    result = page.evaluate(
                        "([model, images, count]) => window.edgekitLiteRt.evaluate(model, images, count)",
                        [f"models/{artifact.name}/{artifact.main_file}", f"{DATA_PREFIX}/{IMAGES_FILE}", count],
                    )
                except PlaywrightError as error:
                    detail = errors[-1] if errors else str(error).splitlines()[0]
                    results.append(StepError(f"{NAME}: {artifact.name} failed in Chromium: {detail}"))
                    continue
                predictor.last_run = {"backend": result["backend"], "count": count, "seconds": result["seconds"]}
                outputs = np.frombuffer(base64.b64decode(result["outputs"]), dtype="<f4").reshape(count, -1)
                results.append(to_probabilities(outputs, artifact.output, artifact.output_kind))
        finally:
            browser.close()
    return results


def load(artifact_dir: Path, artifact: Artifact) -> LiteRTJSPredictor:
    return LiteRTJSPredictor(artifact_dir, artifact)


# Not in the default gate, like mediapipe: chosen with --targets litertjs-chromium-wasm (or `all`). Its browser
# shares the lane of the TF.js browsers: two cores cannot host several at once.
RUNTIME = Runtime(
    NAME,
    (Format.TFLITE,),
    browser_unavailable,
    load,
    by_input(predict_many),
    takes=takes,
    default=False,
    engine="chromium",
    backend="wasm",
    lane="browser",
)
