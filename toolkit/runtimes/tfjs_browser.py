"""TF.js artifacts run inside a real browser page: headless Chromium driven by Playwright, wasm backend."""

from __future__ import annotations

import base64
import concurrent.futures
import shutil
import tempfile
from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.errors import InputError, StepError
from toolkit.pixels.tensors import to_model_input, to_probabilities
from toolkit.runtimes.base import Runtime, by_input

NAME = "tfjs-browser-wasm"
CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, not a Playwright download (none can be fetched here); the flags keep it off the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--disable-quic",
    "--metrics-recording-only",
]
TIMEOUT_MS = 180_000
DATA_PREFIX, IMAGES_FILE = "eval-data", "images.f32"


def chromium_executable() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python package playwright is not installed (an edgekit dependency: reinstall edgekit)"
    if chromium_executable() is None:
        return "Chromium not found (install Debian's package: `apt-get install chromium`)"
    from toolkit.web import assets as web_assets

    return web_assets.missing()


def launch_chromium(playwright):
    """Start headless Chromium from the system package with flags that keep it quiet and offline."""
    return playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True)


class TFJSBrowserPredictor:
    """A TF.js artifact evaluated in a page of headless Chromium, served on loopback.

    The images go to the page as a raw float32 file in a temporary folder that the server mounts for the call
    (handing 31 MB to the page through Playwright's protocol takes ~25 s, fetching it from loopback well under 1 s).
    """

    runtime = NAME

    def __init__(self, artifact_dir: Path, artifact: Artifact):
        reason = unavailable()
        if reason:
            raise StepError(f"{NAME}: {reason}")
        self.artifact_dir = Path(artifact_dir)
        self.artifact = artifact
        self.last_run: dict = {}  # backend, count and seconds spent in the page by the last call

    def predict(self, images: np.ndarray) -> np.ndarray:
        result = predict_many([self], images)[0]
        if isinstance(result, Exception):
            raise result
        return result


def predict_many(predictors: list[TFJSBrowserPredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    """Evaluate several artifacts (taking the same input) in one browser session and one page, one after the
    other. Returns each artifact's probabilities, or the error that artifact met, in the order given.
    """
    # Playwright's sync API refuses to start where an event loop runs (Jupyter, an async app, or another
    # Playwright session such as a test's): a thread of its own has none.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgekit-chromium") as pool:
        return pool.submit(_predict_many, predictors, images).result()


def _predict_many(predictors: list[TFJSBrowserPredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from toolkit.web import assets as web_assets
    from toolkit.web.server import make_static_server, running

    model_input = (
        to_model_input(images, predictors[0].artifact.classifier, predictors[0].artifact.input) if predictors else None
    )
    if not predictors or len(model_input) == 0:
        return [np.zeros((0, *p.artifact.output.shape), dtype=np.float32) for p in predictors]
    count = len(model_input)
    names = ", ".join(p.artifact.name for p in predictors)
    errors: list[str] = []
    results: list[np.ndarray | Exception] = []
    try:
        assets = web_assets.locate()
    except InputError as error:
        raise StepError(f"{NAME}: {error}") from None
    models = {f"models/{p.artifact.name}": p.artifact_dir for p in predictors}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="edgekit-tfjs-browser-") as tmp,
            running(make_static_server({**assets.mounts(), **models, DATA_PREFIX: Path(tmp)})) as base_url,
            sync_playwright() as playwright,
        ):
            model_input.astype("<f4").tofile(Path(tmp) / IMAGES_FILE)
            browser = launch_chromium(playwright)
            try:
                page = browser.new_page()
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(f"{base_url}eval.html")
                page.wait_for_function("() => window.edgekitEval !== undefined")
                for predictor in predictors:
                    name = predictor.artifact.name
                    try:
                        result = page.evaluate(
                            "([model, images, count]) => window.edgekitEval.evaluate(model, images, count)",
                            [f"models/{name}/", f"{DATA_PREFIX}/{IMAGES_FILE}", count],
                        )
                    except PlaywrightError as error:
                        detail = errors[-1] if errors else str(error).splitlines()[0]
                        results.append(StepError(f"{NAME}: {name} failed in Chromium: {detail}"))
                        continue
                    predictor.last_run = {"backend": result["backend"], "count": count, "seconds": result["seconds"]}
                    outputs = np.frombuffer(base64.b64decode(result["outputs"]), dtype="<f4").reshape(count, -1)
                    artifact = predictor.artifact
                    results.append(to_probabilities(outputs, artifact.output, artifact.output_kind))
            finally:
                browser.close()
    except PlaywrightError as error:
        detail = errors[-1] if errors else str(error).splitlines()[0]
        raise StepError(f"{NAME}: {names} failed in Chromium: {detail}") from None
    return results


def load(artifact_dir: Path, artifact: Artifact) -> TFJSBrowserPredictor:
    return TFJSBrowserPredictor(artifact_dir, artifact)


RUNTIME = Runtime(NAME, (Format.TFJS,), unavailable, load, by_input(predict_many))
