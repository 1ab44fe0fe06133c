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
        tfjs_browser.RUNTIME,
        litertjs_browser.RUNTIME,
        saved_model.RUNTIME,
    )
}


def runtimes_for(format: Format) -> list[Runtime]:
    """The runtimes that evaluate artifacts of `format`, in evaluation order."""
    return [r for r in RUNTIMES.values() if format in r.formats]


__all__ = ["Predictor", "RUNTIMES", "Runtime", "runtimes_for"]
