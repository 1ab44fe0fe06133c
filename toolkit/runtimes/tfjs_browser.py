"""TF.js artifacts run inside a real browser page: headless Chromium driven by Playwright, wasm backend."""

from __future__ import annotations

import base64
import concurrent.futures
import shutil
import tempfile
from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.errors import StepError
from toolkit.runtimes.base import Runtime, to_model_input, to_probabilities

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
        return "Python package playwright is not installed (it is in the dev dependency group: `uv sync`)"
    if chromium_executable() is None:
        return "Chromium not found (install Debian's package: `apt-get install chromium`)"
    from toolkit.serve import web_demo_missing

    return web_demo_missing()


def launch_chromium(playwright):
    """Start headless Chromium from the system package with flags that keep it quiet and offline."""
    return playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True)


class TFJSBrowserPredictor:
    """Each predict() call serves the artifact on loopback, opens the evaluation page and evaluates there.

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
        # Playwright's sync API refuses to start where an event loop runs (Jupyter, an async app, or another
        # Playwright session such as a test's): a thread of its own has none.
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgekit-chromium") as pool:
            return pool.submit(self._predict, images).result()

    def _predict(self, images: np.ndarray) -> np.ndarray:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        from toolkit.serve import make_model_server, running

        model_input = to_model_input(images, self.artifact.classifier, self.artifact.input)
        count = len(model_input)
        if count == 0:
            return np.zeros((0, *self.artifact.output.shape), dtype=np.float32)
        name = self.artifact.name
        errors: list[str] = []
        try:
            with (
                tempfile.TemporaryDirectory(prefix="edgekit-tfjs-browser-") as tmp,
                running(make_model_server({name: self.artifact_dir}, extra={DATA_PREFIX: Path(tmp)})) as base_url,
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
                    result = page.evaluate(
                        "([model, images, count]) => window.edgekitEval.evaluate(model, images, count)",
                        [f"models/{name}/", f"{DATA_PREFIX}/{IMAGES_FILE}", count],
                    )
                finally:
                    browser.close()
        except PlaywrightError as error:
            detail = errors[-1] if errors else str(error).splitlines()[0]
            raise StepError(f"{NAME}: {name} failed in Chromium: {detail}") from None
        self.last_run = {"backend": result["backend"], "count": count, "seconds": result["seconds"]}
        outputs = np.frombuffer(base64.b64decode(result["outputs"]), dtype="<f4")
        return to_probabilities(outputs.reshape(count, -1), self.artifact.output, self.artifact.output_kind)


def load(artifact_dir: Path, artifact: Artifact) -> TFJSBrowserPredictor:
    return TFJSBrowserPredictor(artifact_dir, artifact)


RUNTIME = Runtime(NAME, (Format.TFJS,), unavailable, load)
