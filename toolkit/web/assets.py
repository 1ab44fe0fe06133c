"""Where the web demo's site, Node runner and npm packages are: a git checkout's web_demo/, or the installed package
data with its locked npm packages installed on first use into a user cache."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import InputError

TOOLKIT = Path(__file__).resolve().parent.parent
CHECKOUT = TOOLKIT.parent / "web_demo"  # a git checkout (or an editable install of one)
PACKAGED = TOOLKIT / "_web"  # the wheel's copy, see [tool.hatch...force-include]
# What the wheel carries of web_demo/; dist/ is built (`npm run build`, which `npm ci` runs) before the wheel is.
SHIPPED = ("package.json", "package-lock.json", "site", "node", "dist")
LITE_BUNDLE = Path("dist") / "tf-lite.js"  # the demo page's own small TF.js (web_demo/lite/entry.js)
# URL prefix -> folder inside node_modules: the UMD bundles and the .wasm binaries, served as installed.
VENDOR = {
    "tfjs": "@tensorflow/tfjs/dist",
    "tfjs-backend-wasm": "@tensorflow/tfjs-backend-wasm/dist",
    # The demo page loads TF.js in parts (core + converter + wasm first, the rest when needed): less to parse at start.
    "tfjs-core": "@tensorflow/tfjs-core/dist",
    "tfjs-layers": "@tensorflow/tfjs-layers/dist",
    "tfjs-converter": "@tensorflow/tfjs-converter/dist",
    "tfjs-backend-webgl": "@tensorflow/tfjs-backend-webgl/dist",
    "tfjs-backend-cpu": "@tensorflow/tfjs-backend-cpu/dist",
    # LiteRT.js (the litertjs-chromium-wasm runtime): its ES module, its wasm builds, the helper it imports by name.
    "litertjs": "@litertjs/core/dist",
    "litertjs-wasm": "@litertjs/core/wasm",
    "litertjs-utils": "@litertjs/wasm-utils/dist",
    # Loaded by the evaluation page only for the tfjs-chromium-webgpu runtime (not in the full TF.js bundle).
    "tfjs-backend-webgpu": "@tensorflow/tfjs-backend-webgpu/dist",
}
LITE_PREFIX = "tfjs-lite"  # URL prefix of web_demo/dist/
PACKAGES = (
    "@tensorflow/tfjs",
    "@tensorflow/tfjs-core",
    "@tensorflow/tfjs-converter",
    "@tensorflow/tfjs-layers",
    "@tensorflow/tfjs-backend-wasm",
    "@litertjs/core",
    "@litertjs/wasm-utils",
)
NPM_TIMEOUT_S = 900
# What `npm ci --omit=dev` of the shipped lock writes, for the message before it starts (docs/performance.md,
# "The web demo's npm packages").
NPM_INSTALL_MB = 320
CHECKOUT_HINT = "run `npm ci --prefix web_demo`"  # which also builds web_demo/dist/ (package.json's prepare)


@dataclass(frozen=True)
class WebAssets:
    """A web tree ready to use: site/, node/ and node_modules/ under one root."""

    root: Path

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def runner(self) -> Path:
        return self.root / "node" / "evaluate.mjs"

    @property
    def node_modules(self) -> Path:
        return self.root / "node_modules"

    def mounts(self) -> dict[str, Path]:
        """The demo's URL mounts: the site at the root and the TF.js bundles beside it."""
        vendored = {prefix: self.node_modules / folder for prefix, folder in VENDOR.items()}
        return {"": self.site, LITE_PREFIX: self.root / LITE_BUNDLE.parent, **vendored}


def _complete(root: Path) -> bool:
    installed = all((root / "node_modules" / p / "package.json").is_file() for p in PACKAGES)
    return (root / "site").is_dir() and installed and (root / LITE_BUNDLE).is_file()


def in_checkout() -> bool:
    return (CHECKOUT / "package-lock.json").is_file()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgekit"


def shipped_hash() -> str:
    """A digest of every shipped web file: a new release with other JS or another lock gets a cache of its own."""
    source, digest = PACKAGED, hashlib.sha256()
    for name in SHIPPED:
        top = source / name
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for file in files:
            digest.update(file.relative_to(source).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cached_root() -> Path:
    return cache_root() / f"web-{shipped_hash()}"


def missing() -> str | None:
    """Why the web assets cannot be made ready here, or None (they may still need a first-use npm install)."""
    if in_checkout():
        if not (CHECKOUT / "site").is_dir():
            return f"the web demo is not in this checkout ({CHECKOUT / 'site'} is missing)"
        if not _complete(CHECKOUT):
            if all((CHECKOUT / "node_modules" / p / "package.json").is_file() for p in PACKAGES):
                return f"{CHECKOUT / LITE_BUNDLE} missing: run `npm run build --prefix web_demo`"
            return f"web_demo packages missing: {CHECKOUT_HINT}"
        return None
    if not (PACKAGED / "package-lock.json").is_file() or not (PACKAGED / LITE_BUNDLE).is_file():
        return f"the web demo is not in this installation ({PACKAGED} is missing or incomplete)"
    if _complete(cached_root()):
        return None
    if shutil.which("npm") is None:
        return "npm not found on PATH: it installs the web demo's TF.js packages on first use (install Node.js)"
    return None


def locate(progress: Callable[[str], None] | None = None) -> WebAssets:
    """The ready web tree, installing the locked npm packages into the user cache on first use.

    Raises:
        InputError: the assets are missing and cannot be installed (the message says what to do).
    """
    reason = missing()
    if reason:
        raise InputError(reason)
    if in_checkout():
        return WebAssets(CHECKOUT)
    root = cached_root()
    if not _complete(root):
        install(root, progress or (lambda line: print(line, file=sys.stderr, flush=True)))
    return WebAssets(root)


def install(root: Path, progress: Callable[[str], None]) -> None:
    """Copy the shipped web files to `root` and run `npm ci` there, atomically.

    Everything happens in a temporary sibling that is renamed to `root` only when npm succeeded, so a killed install
    leaves no directory that looks complete; a concurrent install that finished first wins.

    Raises:
        InputError: npm failed (its last line is in the message).
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    # What a killed install left (~300 MB each): older than the npm timeout, so no live install still owns it.
    for stale in root.parent.glob("web-*.partial-*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > NPM_TIMEOUT_S:
                shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.partial-", dir=root.parent))
    try:
        for name in SHIPPED:
            source = PACKAGED / name
            if source.is_dir():
                shutil.copytree(source, staging / name)
            else:
                shutil.copy2(source, staging / name)
        progress(
            f"Installing the web demo's TF.js packages (npm ci, first use only: about {NPM_INSTALL_MB} MB) "
            f"into {root} ..."
        )
        started = time.monotonic()
        _npm_ci(staging)
        progress(f"Installed {_megabytes(staging):.0f} MB in {time.monotonic() - started:.0f} s.")
        try:
            staging.rename(root)
        except OSError:
            if not _complete(root):
                raise
        else:
            staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _megabytes(root: Path) -> float:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total / 1e6


def _npm_ci(staging: Path) -> None:
    """`npm ci` in `staging`; on a terminal, the megabytes written so far on one line of stderr, once a second.

    Raises:
        InputError: npm failed or took longer than NPM_TIMEOUT_S (its last line is in the message).
    """
    command = ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    live = sys.stderr.isatty()
    with tempfile.TemporaryFile("w+") as output:
        npm = subprocess.Popen(command, cwd=staging, stdout=output, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + NPM_TIMEOUT_S
        while npm.poll() is None:
            if time.monotonic() > deadline:
                npm.kill()
                npm.wait()
                raise InputError(f"npm ci took longer than {NPM_TIMEOUT_S} s in {staging}")
            if live:
                print(
                    f"\r  {_megabytes(staging):5.0f} of about {NPM_INSTALL_MB} MB", end="", file=sys.stderr, flush=True
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                npm.wait(timeout=1)
        if live:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
        if npm.returncode != 0:
            output.seek(0)
            lines = output.read().strip().splitlines()
            raise InputError(f"npm ci failed for the web demo: {lines[-1] if lines else 'no output'}")
