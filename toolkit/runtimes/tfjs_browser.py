"""TF.js artifacts run inside real browser pages: one runtime per engine (Chromium, Firefox, WebKit) and TF.js backend
(wasm, WebGL, WebGL with float16 textures, WebGPU), named tfjs-ENGINE-BACKEND. Chromium is driven by Playwright,
Firefox over WebDriver BiDi (toolkit.runtimes.bidi), WebKitGTK through WebKitWebDriver (toolkit.runtimes.webdriver).
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from exporters.base import Artifact, Format
from toolkit.errors import InputError, StepError, first_line
from toolkit.pixels.tensors import to_model_input, to_probabilities
from toolkit.runtimes.base import NotStarted, Runtime, by_input, predict_one

CHROMIUM = "/usr/bin/chromium"
FIREFOX = "/usr/bin/firefox-esr"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
# Debian's Chromium, not a Playwright download (none can be fetched here); the flags keep it off the network.
# They give WebGL 2 on SwiftShader too (docs/verdict.md, "The browser runtimes").
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
# WebGPU has an adapter (SwiftShader's Vulkan) only with this flag, and only on a secure page such as 127.0.0.1.
EXTRA_CHROMIUM_ARGS = {"webgpu": ["--enable-unsafe-webgpu"]}
TIMEOUT_MS = 180_000
START_TIMEOUT_S = 120
# An upper bound of the seconds one image takes on each backend here, to bound a call that hangs; measured costs
# are far lower (docs/performance.md, "TF.js backends and browsers").
SECONDS_PER_IMAGE = {"wasm": 0.02, "webgl": 0.2, "webgl-f16": 0.3, "webgpu": 1.0}
DATA_PREFIX, IMAGES_FILE = "eval-data", "images.f32"
# A node departs when it differs from wasm's by more than this share of its largest value: float32 rounding between
# backends stays near 1e-6, float16 storage is 5e-4 (docs/verdict.md, "The browser runtimes").
DEPARTS = 1e-5
DEPARTURE_IMAGES = 8
INSTALL = "install Debian's package: `apt-get install %s`"


@dataclasses.dataclass(frozen=True)
class Target:
    """One browser engine with one TF.js backend."""

    engine: str  # chromium, firefox, webkit
    backend: str  # wasm, webgl, webgl-f16, webgpu

    @property
    def name(self) -> str:
        return f"tfjs-{self.engine}-{self.backend}"


# Registry order is evaluation order. Today's gate runs Chromium on wasm; the rest run when chosen (--targets).
DEFAULT = Target("chromium", "wasm")
TARGETS = (
    DEFAULT,
    Target("chromium", "webgl"),
    Target("chromium", "webgl-f16"),
    Target("chromium", "webgpu"),
    Target("firefox", "wasm"),
    Target("firefox", "webgl"),
    Target("webkit", "wasm"),
    Target("webkit", "webgl"),
)
NAME = DEFAULT.name


def chromium_executable() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def firefox_executable() -> str | None:
    if Path(FIREFOX).is_file():
        return FIREFOX
    return shutil.which("firefox-esr") or shutil.which("firefox")


def _engine_missing(engine: str, backend: str) -> str | None:
    if engine == "chromium":
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "Python package playwright is not installed (an edgekit dependency: reinstall edgekit)"
        return None if chromium_executable() else f"Chromium not found ({INSTALL % 'chromium'})"
    display = engine == "webkit" or backend != "wasm"  # MiniBrowser always, Firefox for WebGL, need a display
    if display and shutil.which("xvfb-run") is None:
        return f"xvfb-run not found: this browser needs a display here ({INSTALL % 'xvfb'})"
    if engine == "firefox":
        try:
            import websocket  # noqa: F401
        except ImportError:
            return "Python package websocket-client is not installed (an edgekit dependency: reinstall edgekit)"
        return None if firefox_executable() else f"Firefox not found ({INSTALL % 'firefox-esr'})"
    if shutil.which("WebKitWebDriver") is None or not Path(MINIBROWSER).is_file():
        return f"WebKitGTK's driver not found ({INSTALL % 'webkit2gtk-driver'})"
    return None


def target_unavailable(target: Target) -> str | None:
    """Why `target` cannot run here, or None; a backend that only fails once started is found out then."""
    from toolkit.web import assets as web_assets

    return _engine_missing(target.engine, target.backend) or web_assets.missing()


def unavailable() -> str | None:
    """Why today's runtime (Chromium, wasm) cannot run here, or None."""
    return target_unavailable(DEFAULT)


def launch_chromium(playwright, backend: str = "wasm"):
    """Start headless Chromium from the system package with flags that keep it quiet and offline."""
    args = CHROMIUM_ARGS + EXTRA_CHROMIUM_ARGS.get(backend, [])
    return playwright.chromium.launch(executable_path=chromium_executable(), args=args, headless=True)


class ChromiumSession:
    """Playwright's headless Chromium with one page; `call` evaluates a JS expression and awaits its promise.

    Playwright's sync API refuses to start where an event loop runs: use it from a thread of its own.
    """

    def __init__(self, backend: str):
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        try:
            self.browser = launch_chromium(self.playwright, backend)
            self.version = f"Chromium {self.browser.version}"
            self.page = self.browser.new_page()
        except BaseException:
            self.playwright.stop()
            raise
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.set_default_timeout(TIMEOUT_MS)

    def open(self, url: str, timeout: float = 60) -> None:
        self.page.goto(url, timeout=timeout * 1000)

    def call(self, expression: str, timeout: float):
        from playwright.sync_api import Error as PlaywrightError

        self.errors.clear()
        try:
            return self.page.evaluate(f"async () => ({expression})")
        except PlaywrightError as error:
            message = str(error).splitlines()[0].removeprefix("Error: page.evaluate: ").removeprefix("Error: ")
            raise StepError(self.errors[-1] if self.errors else message) from None

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.playwright.stop()


def open_session(target: Target):
    """A started browser of `target`'s engine, with a `version`, `open(url)`, `call(expression, timeout)`, `close()`."""
    if target.engine == "chromium":
        return ChromiumSession(target.backend)
    if target.engine == "firefox":
        from toolkit.runtimes.bidi import FirefoxSession

        return FirefoxSession(firefox_executable(), display=target.backend != "wasm")
    from toolkit.runtimes.webdriver import WebKitSession

    return WebKitSession(MINIBROWSER)


class TFJSBrowserPredictor:
    """A TF.js artifact evaluated in a browser page served on loopback.

    The images go to the page as a raw float32 file in a temporary folder that the server mounts for the call
    (handing 31 MB to the page through a driver's protocol takes ~25 s, fetching it from loopback well under 1 s).
    """

    def __init__(self, artifact_dir: Path, artifact: Artifact, target: Target = DEFAULT):
        reason = target_unavailable(target)
        if reason:
            raise StepError(f"{target.name}: {reason}")
        self.target = target
        self.runtime = target.name
        self.artifact_dir = Path(artifact_dir)
        self.artifact = artifact
        self.last_run: dict = {}  # target, backend, browser, count and seconds spent in the page by the last call

    def predict(self, images: np.ndarray) -> np.ndarray:
        return predict_one(predict_many, self, images)


def predict_many(predictors: list[TFJSBrowserPredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    """Evaluate several artifacts (taking the same input, on the same target) in one browser and one page, one
    after the other. Returns each artifact's probabilities, or the error that artifact met, in the order given.

    Raises NotStarted when the browser or its TF.js backend could not start: nothing was evaluated.
    """
    # Playwright's sync API refuses to start where an event loop runs (Jupyter, an async app, or another
    # Playwright session such as a test's): a thread of its own has none.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgekit-browser") as pool:
        return pool.submit(_predict_many, predictors, images).result()


def _predict_many(predictors: list[TFJSBrowserPredictor], images: np.ndarray) -> list[np.ndarray | Exception]:
    if not predictors:
        return []
    target = predictors[0].target
    first = predictors[0].artifact
    model_input = to_model_input(images, first.classifier, first.input)
    if len(model_input) == 0:
        return [np.zeros((0, *p.artifact.output.shape), dtype=np.float32) for p in predictors]
    models = {p.artifact.name: p.artifact_dir for p in predictors}
    with _page(target, models, model_input) as (session, page):
        return [_evaluate(session, page, predictor, len(model_input)) for predictor in predictors]


@contextlib.contextmanager
def _page(target: Target, models: dict[str, Path], model_input: np.ndarray):
    """The evaluation page in a started browser of `target`, serving `models` (name -> folder) and the inputs:
    yields (session, what the page said when ready)."""
    from toolkit.web import assets as web_assets
    from toolkit.web.server import make_static_server, running

    try:
        assets = web_assets.locate()
    except InputError as error:
        raise StepError(f"{target.name}: {error}") from None
    mounts = {**assets.mounts(), **{f"models/{name}": folder for name, folder in models.items()}}
    with (
        tempfile.TemporaryDirectory(prefix="edgekit-tfjs-browser-") as tmp,
        running(make_static_server({**mounts, DATA_PREFIX: Path(tmp)})) as base_url,
    ):
        model_input.astype("<f4").tofile(Path(tmp) / IMAGES_FILE)
        session = _start(target, f"{base_url}eval.html#{target.backend}")
        try:
            yield session, _ready(session, target)
        finally:
            session.close()


def _start(target: Target, url: str):
    """The browser, started and on the evaluation page; NotStarted when it cannot get there."""
    try:
        session = open_session(target)
    except Exception as error:
        raise NotStarted(f"{target.name}: {target.engine} did not start: {first_line(error)}") from None
    try:
        session.open(url)
    except Exception as error:
        session.close()
        raise NotStarted(f"{target.name}: {session.version} did not open the page: {first_line(error)}") from None
    return session


def _ready(session, target: Target) -> dict:
    """Wait for the page's TF.js backend; NotStarted (with the page's reason) when it could not start."""
    # eval.js defines window.edgekitEval before the page's load event: without it by then, the script failed.
    wait = (
        "new Promise((resolve, reject) => { const poll = () => window.edgekitEval ? resolve(window.edgekitEval.ready)"
        " : document.readyState === 'complete' ? reject(new Error('the evaluation page did not load its script')) :"
        " setTimeout(poll, 50); poll(); })"
    )
    try:
        page = session.call(wait, START_TIMEOUT_S + 10)
    except Exception as error:
        raise NotStarted(f"{target.name}: {first_line(error)} in {session.version}") from None
    return {**page, "browser": session.version}


def _evaluate(session, page: dict, predictor: TFJSBrowserPredictor, count: int) -> np.ndarray | Exception:
    """One artifact's probabilities from the page, or the error it met there."""
    target, artifact = predictor.target, predictor.artifact
    args = json.dumps([f"models/{artifact.name}/", f"{DATA_PREFIX}/{IMAGES_FILE}", count])
    timeout = START_TIMEOUT_S + count * SECONDS_PER_IMAGE[target.backend]
    try:
        result = session.call(f"window.edgekitEval.evaluate(...{args})", timeout)
    except Exception as error:
        return StepError(f"{target.name}: {artifact.name} failed in {page['browser']}: {first_line(error)}")
    predictor.last_run = {
        "target": target.name,
        "backend": result["backend"],
        "browser": page["browser"],
        "renderer": page.get("renderer"),
        "count": count,
        "seconds": result["seconds"],
    }
    outputs = np.frombuffer(base64.b64decode(result["outputs"]), dtype="<f4").reshape(count, -1)
    return to_probabilities(outputs, artifact.output, artifact.output_kind)


def node_outputs(target: Target, artifact_dir: Path, artifact: Artifact, images: np.ndarray) -> list[tuple]:
    """Every computed node of a graph model on `images` in `target`, in model.json's order: (name, op, outputs)."""
    model_input = to_model_input(images, artifact.classifier, artifact.input)

    def run() -> list:
        with _page(target, {artifact.name: Path(artifact_dir)}, model_input) as (session, _):
            args = json.dumps([f"models/{artifact.name}/", f"{DATA_PREFIX}/{IMAGES_FILE}", len(model_input)])
            return session.call(f"window.edgekitEval.nodeOutputs(...{args})", START_TIMEOUT_S + 60)

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgekit-browser") as pool:
        nodes = pool.submit(run).result()
    decode = base64.b64decode
    return [(n["name"], n["op"], np.frombuffer(decode(n["data"]), "<f4").reshape(n["shape"])) for n in nodes]


def first_departure(target: Target, artifact_dir: Path, artifact: Artifact, images: np.ndarray) -> str | None:
    """Where `target`'s outputs first depart from Chromium wasm's, node by node on `images` (a few suffice), as
    one line; None when no node departs by more than float32 rounding."""
    reference = node_outputs(DEFAULT, artifact_dir, artifact, images)
    ours = node_outputs(target, artifact_dir, artifact, images)
    for (name, op, expected), (_, _, got) in zip(reference, ours, strict=True):
        diff = float(np.abs(expected.astype(np.float64) - got).max()) if expected.size else 0.0
        relative = diff / max(float(np.abs(expected).max()), 1e-12) if expected.size else 0.0
        if not np.isfinite(diff) or relative > DEPARTS:
            return (
                f"first departs from {DEFAULT.name} at node {name} ({op}): max |difference| {diff:.2g}, "
                f"{relative:.2g} of the node's largest value, on {len(images)} images"
            )
    return None


def _explain(target: Target, artifact_dir: Path, artifact: Artifact, images: np.ndarray) -> str | None:
    """For a failed evaluation on a backend other than wasm: where it departs, or why that could not be found."""
    if target.backend == "wasm":
        return None
    try:
        return first_departure(target, artifact_dir, artifact, images[:DEPARTURE_IMAGES])
    except Exception as error:  # the verdict stands; only its explanation is missing
        return f"no node-by-node comparison with {DEFAULT.name}: {first_line(error)}"


def _load(target: Target, artifact_dir: Path, artifact: Artifact) -> TFJSBrowserPredictor:
    return TFJSBrowserPredictor(artifact_dir, artifact, target)


def load(artifact_dir: Path, artifact: Artifact) -> TFJSBrowserPredictor:
    """Today's runtime: the artifact in Chromium on wasm."""
    return _load(DEFAULT, artifact_dir, artifact)


def _runtime(target: Target) -> Runtime:
    return Runtime(
        target.name,
        (Format.TFJS,),
        functools.partial(target_unavailable, target),
        functools.partial(_load, target),
        by_input(predict_many),
        default=target == DEFAULT,
        engine=target.engine,
        backend=target.backend,
        lane="browser",
        explain=functools.partial(_explain, target),
    )


RUNTIMES = tuple(_runtime(target) for target in TARGETS)
RUNTIME = RUNTIMES[0]
