"""Hatch build hook: the wheel carries the demo's built TF.js (web_demo/dist/), an editable install does not need it."""

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LITE_BUNDLE = "web_demo/dist/tf-lite.js"


class WheelHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        # dist/ is git-ignored (built by `npm ci --prefix web_demo`), so hatch would skip it inside the force-included
        # folder; a static force-include would also break `uv sync` before npm ci, which builds the editable wheel.
        if version == "editable":
            return
        if not (Path(self.root) / LITE_BUNDLE).is_file():
            raise FileNotFoundError(f"{LITE_BUNDLE} is missing: run `npm ci --prefix web_demo` before the wheel")
        build_data["force_include"][LITE_BUNDLE] = "toolkit/_web/dist/tf-lite.js"
