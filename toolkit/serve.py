"""A read-only loopback HTTP server for the web demo, its TF.js libraries and a run's TF.js models."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from exporters.base import Format
from toolkit.errors import InputError
from toolkit.run import Run

WEB_DEMO = Path(__file__).resolve().parent.parent / "web_demo"
SITE = WEB_DEMO / "site"
NODE_MODULES = WEB_DEMO / "node_modules"
# URL prefix -> folder inside web_demo/node_modules: the UMD bundles and the .wasm binaries, served as installed.
VENDOR = {
    "tfjs": "@tensorflow/tfjs/dist",
    "tfjs-backend-wasm": "@tensorflow/tfjs-backend-wasm/dist",
    # The demo page loads TF.js in parts (core + layers + wasm first, the rest when needed): less to parse at start.
    "tfjs-core": "@tensorflow/tfjs-core/dist",
    "tfjs-layers": "@tensorflow/tfjs-layers/dist",
    "tfjs-converter": "@tensorflow/tfjs-converter/dist",
    "tfjs-backend-webgl": "@tensorflow/tfjs-backend-webgl/dist",
    "tfjs-backend-cpu": "@tensorflow/tfjs-backend-cpu/dist",
}
NPM_HINT = "run `npm ci --prefix web_demo`"

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".bin": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# Same-origin only; 'wasm-unsafe-eval' lets the page compile the wasm backend and nothing else is evaluated.
# No cross-origin isolation (COOP/COEP) on purpose: it would switch TF.js to its threaded wasm build, which for a
# model this small costs ~400 ms more at page load and is slower per image than the single-threaded SIMD build
# (measured on 2 cores).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
        "style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def tfjs_models(run_dir: Path) -> dict[str, Path]:
    """The TF.js artifacts of a run: name -> artifact directory, in name order.

    Raises:
        InputError: the run directory does not exist or holds no TF.js artifact.
    """
    run = Run.open(run_dir)
    models = {a.name: run.artifact_dir(a) for a in run.artifacts(Format.TFJS)}
    if not models:
        raise InputError(f"{run.path} has no TF.js model; run `edgekit export` first")
    return models


def web_demo_missing() -> str | None:
    """Why the demo cannot be served from this checkout, or None when it can."""
    if not SITE.is_dir():
        return f"the web demo is not in this installation ({SITE} is missing)"
    missing = [name for name, folder in VENDOR.items() if not (NODE_MODULES / folder).is_dir()]
    if missing:
        return f"web_demo packages missing: {NPM_HINT}"
    return None


class _Handler(BaseHTTPRequestHandler):
    """GET and HEAD of files under fixed mounts; every other method is refused with 405."""

    def version_string(self) -> str:
        return "edgekit"

    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm on, the second waits for the client's delayed
    # ACK (~40 ms) on every keep-alive request, which the page's chain of small JSON fetches would pay each time.
    disable_nagle_algorithm = True
    mounts: dict[str, Path] = {}  # URL path prefix without slashes ("" for the site itself) -> real folder
    generated: dict[str, bytes] = {}  # exact path -> body, for the model index
    quiet = True

    def do_GET(self) -> None:
        self._send(head=False)

    def do_HEAD(self) -> None:
        self._send(head=True)

    def __getattr__(self, name: str):
        # http.server looks up do_<METHOD> and answers 501 when it is missing; every method but GET and HEAD is
        # known to be refused here, which is 405.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, head: bool) -> None:
        path = urlsplit(self.path).path
        if path in self.generated:
            return self._reply(self.generated[path], MIME_TYPES[".json"], head)
        file = self._resolve(path)
        if file is None:
            return self._error(HTTPStatus.NOT_FOUND)
        try:
            body = file.read_bytes()
        except OSError:
            return self._error(HTTPStatus.NOT_FOUND)
        self._reply(body, MIME_TYPES.get(file.suffix.lower(), "application/octet-stream"), head)

    def _resolve(self, raw_path: str) -> Path | None:
        """The regular file a URL path names inside one mount, or None; never anything outside the mounts."""
        try:
            path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            return None
        # Decoded before checking, so %2e%2e and %2f are refused exactly like a literal `..` and `/`.
        if not path.startswith("/") or "\\" in path or "\0" in path:
            return None
        segments = path[1:].split("/")
        if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
            return None
        if segments[-1] == "":
            segments[-1] = "index.html"
        # The longest mount that prefixes the path: `models/<name>` before the site root "".
        cut = next(c for c in range(len(segments) - 1, -1, -1) if "/".join(segments[:c]) in self.mounts)
        root = self.mounts["/".join(segments[:cut])]
        candidate = Path(os.path.realpath(root.joinpath(*segments[cut:])))
        # realpath follows symlinks: a link pointing out of its mount resolves outside the root and is refused.
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate

    def _reply(self, body: bytes, content_type: str, head: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", MIME_TYPES[".txt"])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def make_model_server(
    models: dict[str, Path],
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    extra: dict[str, Path] | None = None,
) -> ThreadingHTTPServer:
    """A server for the demo site, the TF.js bundles and the given model folders (served under /models/<name>/).

    Args:
        models: artifact name -> TF.js artifact directory (with contract.json).
        host, port: where to listen; port 0 picks a free port (read it from `server.server_address`).
        quiet: no request log on stderr.
        extra: more read-only folders, URL prefix (one segment) -> directory; the evaluation page's images.

    Raises:
        InputError: the web demo or its npm packages are missing.
    """
    missing = web_demo_missing()
    if missing:
        raise InputError(missing)
    mounts = {"": SITE.resolve()}
    for prefix, folder in VENDOR.items():
        mounts[prefix] = (NODE_MODULES / folder).resolve()
    model_roots = {name: Path(directory).resolve() for name, directory in models.items()}
    index = json.dumps({"models": [{"name": name, "url": f"models/{name}/"} for name in model_roots]}).encode()
    # Each model is its own mount, so a name can only reach its own folder, not the run directory around it.
    mounts.update({f"models/{name}": root for name, root in model_roots.items()})
    mounts.update({prefix: Path(directory).resolve() for prefix, directory in (extra or {}).items()})

    class Handler(_Handler):
        pass

    Handler.mounts = mounts
    Handler.generated = {"/models/index.json": index}
    Handler.quiet = quiet
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def make_server(run_dir: Path, host: str = "127.0.0.1", port: int = 8000, quiet: bool = True) -> ThreadingHTTPServer:
    """A server for the demo with every TF.js artifact of `run_dir` (see make_model_server).

    Raises:
        InputError: the run does not exist, has no TF.js model, or the demo's npm packages are missing.
    """
    return make_model_server(tfjs_models(run_dir), host, port, quiet)


@contextlib.contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve in a background thread for the duration of a `with` block; yields the base URL."""
    thread = threading.Thread(target=server.serve_forever, name="edgekit-serve", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve(run_dir: Path, host: str = "127.0.0.1", port: int = 8000, echo=print) -> None:
    """Serve the demo for `run_dir` until interrupted (Ctrl-C).

    Raises:
        InputError: as make_server, or when the port cannot be opened.
    """
    try:
        server = make_server(run_dir, host, port, quiet=False)
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    bound_host, bound_port = server.server_address[:2]
    names = ", ".join(tfjs_models(run_dir))
    echo(f"Serving the edgekit demo with {names} at http://{bound_host}:{bound_port}/ (Ctrl-C to stop)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"Listening on {host}: reachable from other machines on this network.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
