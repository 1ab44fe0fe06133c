"""Where a report was made: the versions of every engine the gate ran in and the CPU (its int8 speed depends on
its vector extensions), recorded in report.json and benchmark.json."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any


def _version(command: list[str]) -> str | None:
    if not shutil.which(command[0]) and not Path(command[0]).is_file():
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None


def _package(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _tfjs_version() -> str | None:
    """TF.js as locked in the web demo's package-lock.json (a checkout's, or the wheel's copy)."""
    from toolkit.web.assets import CHECKOUT, PACKAGED

    for root in (CHECKOUT, PACKAGED):
        try:
            lock = json.loads((root / "package-lock.json").read_text())
            return lock["packages"]["node_modules/@tensorflow/tfjs"]["version"]
        except (OSError, ValueError, KeyError):
            continue
    return None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Versions of every engine the gate ran in, and the CPU: recorded in report.json when the gate runs."""
    from toolkit.runtimes.tfjs_browser import chromium_executable, firefox_executable

    chromium, firefox = chromium_executable(), firefox_executable()
    flags = ""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    return {
        "python": platform.python_version(),
        "tensorflow": _package("tensorflow"),
        "tf_keras": _package("tf-keras"),
        "ai_edge_litert": _package("ai-edge-litert"),
        "tensorflowjs": _package("tensorflowjs"),
        "tfjs": _tfjs_version(),
        "node": _version(["node", "--version"]),
        "chromium": _version([chromium, "--version"]) if chromium else None,
        "firefox": _version([firefox, "--version"]) if firefox else None,
        # WebKitGTK's MiniBrowser prints no version without a display: the distribution's package says it.
        "webkitgtk": _version(["dpkg-query", "-W", "-f", "${Version}\n", "libwebkit2gtk-4.1-0"]),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "avx2": " avx2" in flags,
        "avx512_vnni": "avx512_vnni" in flags or "avx_vnni" in flags,
    }
