"""How the user started edgekit, so that a command it prints (a remedy, a next step in a report) runs as printed
from where they stand: `uv run edgekit` inside `uv run`, `python -m toolkit`, or `edgekit`."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path


def launcher() -> str:
    if os.environ.get("UV_RUN_RECURSION_DEPTH"):  # set by `uv run` for what it starts
        return "uv run edgekit"
    if Path(sys.argv[0]).name == "__main__.py" and Path(sys.argv[0]).parent.name == "toolkit":
        return "python -m toolkit"
    return "edgekit"


def command(*words: str | Path) -> str:
    """A command line that runs as printed: the launcher, then the words (paths as given, quoted where needed)."""
    return " ".join([launcher(), *(shlex.quote(str(w)) for w in words)])
