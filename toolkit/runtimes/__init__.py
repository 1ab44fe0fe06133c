"""The registry of runtimes: which exist, which formats each evaluates, and loading an artifact into one."""

from __future__ import annotations

from exporters.base import Format
from toolkit.runtimes import litert, litertjs_browser, mediapipe_tasks, saved_model, tfjs_browser, tfjs_node
from toolkit.runtimes.base import Predictor, Runtime

# In evaluation order. Each module imports its engine (LiteRT, TensorFlow, Node, Playwright) only when used.
RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        litert.RUNTIME,
        mediapipe_tasks.RUNTIME,
        tfjs_node.RUNTIME,
        *tfjs_browser.RUNTIMES,
        litertjs_browser.RUNTIME,
        saved_model.RUNTIME,
    )
}
# Names that reports and options of earlier versions used for a runtime that has been renamed since.
FORMER_NAMES = {"tfjs-browser-wasm": tfjs_browser.NAME, "litertjs-browser-wasm": litertjs_browser.NAME}
TARGET_WORDS = ("default", "all")


def runtime_name(name: str) -> str:
    """A runtime's current name from its name, a former one, or a browser target without `tfjs-` (chromium-webgl)."""
    name = FORMER_NAMES.get(name, name)
    return name if name in RUNTIMES or f"tfjs-{name}" not in RUNTIMES else f"tfjs-{name}"


def chosen(targets: list[str] | None) -> set[str]:
    """The runtimes a gate with these --targets runs (where they can): the default ones always, the others when
    named, every one with `all`."""
    names = {name for name, runtime in RUNTIMES.items() if runtime.default}
    for target in targets or ():
        names |= set(RUNTIMES) if target == "all" else {runtime_name(target)} if target != "default" else set()
    return names


def runtimes_for(format: Format) -> list[Runtime]:
    """The runtimes that evaluate artifacts of `format`, in evaluation order."""
    return [r for r in RUNTIMES.values() if format in r.formats]


__all__ = ["Predictor", "RUNTIMES", "Runtime", "chosen", "runtime_name", "runtimes_for"]
