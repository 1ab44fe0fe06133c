"""`edgekit serve`: the web demo with a run's TF.js models and its report, on the read-only static-file server."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from exporters.base import Format, read_contract
from toolkit.errors import InputError
from toolkit.run import Run
from toolkit.serve.samples import sample_entities
from toolkit.web import assets as web_assets
from toolkit.web.server import StaticServer, make_entity, make_static_server, running

__all__ = ["make_model_server", "make_server", "model_index", "running", "serve", "tfjs_models", "web_demo_missing"]

REPORT = "report.html"  # the URL path the report is served at
# Whose verdict a model's entry in the index shows: the browser the demo runs in, then Node's identical kernels.
GATE_RUNTIMES = ("tfjs-browser-wasm", "tfjs-node-wasm")
# report.html is self-contained (inline styles, images as data: URLs) and needs no script: it runs none, so a label
# or model name that smuggled markup into it still cannot execute.
REPORT_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


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
    """Why the demo cannot be served from this installation, or None when it can."""
    return web_assets.missing()


def _gate(name: str, evaluations: list[dict]) -> dict:
    mine = [e for e in evaluations if e.get("name") == name]
    chosen = next((e for runtime in GATE_RUNTIMES for e in mine if e.get("runtime") == runtime), None)
    chosen = chosen or (mine[0] if mine else None)
    if chosen is None:
        return {"passed": None, "accuracy": None, "runtime": None}
    return {"passed": chosen.get("passed"), "accuracy": chosen.get("accuracy"), "runtime": chosen.get("runtime")}


def model_index(models: dict[str, Path], run_dir: Path | None = None) -> dict:
    """The demo's /models/index.json: each model with its variant, size and gate verdict, and the report's URL."""
    try:
        report = (Run.open(run_dir).report() if run_dir is not None else None) or {}
    except InputError:
        report = {}  # an unreadable report shows as "not validated", it does not stop the demo
    evaluations = [e for e in report.get("artifacts", []) if isinstance(e, dict)]
    entries = []
    for name, directory in models.items():
        artifact = read_contract(Path(directory))  # already read once through Run (or by the gate): a valid contract
        entries.append(
            {
                "name": name,
                "url": f"models/{name}/",
                "variant": artifact.variant.value,
                "size_bytes": artifact.size_bytes,
                "gate": _gate(name, evaluations),
            }
        )
    has_report = run_dir is not None and Run.open(run_dir).report_html_path.is_file()
    return {"models": entries, "report": REPORT if has_report else None}


def make_model_server(
    models: dict[str, Path],
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    run_dir: Path | None = None,
    allow_hosts: Iterable[str] = (),
) -> StaticServer:
    """A server for the demo site, the TF.js bundles, the given model folders (under /models/<name>/), the model
    index and, when `run_dir` has one, its report.html.

    Raises:
        InputError: the web demo or its npm packages are missing and cannot be installed.
        OSError: the address cannot be bound.
    """
    assets = web_assets.locate()
    # Each model is its own mount, so a name can only reach its own folder, not the run directory around it.
    mounts = {**assets.mounts(), **{f"models/{name}": Path(directory) for name, directory in models.items()}}
    index = model_index(models, run_dir)
    generated = {"/models/index.json": make_entity(json.dumps(index).encode(), "application/json")}
    generated.update(sample_entities(run_dir))  # /samples/: the run's own test images for the page's strip
    if index["report"]:
        # read per request: a new report shows at once
        generated[f"/{REPORT}"] = Run.open(run_dir).report_html_path.resolve()
    return make_static_server(mounts, generated, host, port, quiet, allow_hosts, {f"/{REPORT}": REPORT_POLICY})


def make_server(
    run_dir: Path, host: str = "127.0.0.1", port: int = 8000, quiet: bool = True, allow_hosts: Iterable[str] = ()
) -> StaticServer:
    """A server for the demo with every TF.js artifact of `run_dir` (see make_model_server)."""
    return make_model_server(tfjs_models(run_dir), host, port, quiet, run_dir, allow_hosts)


def serve(
    run_dir: Path, host: str = "127.0.0.1", port: int = 8000, allow_hosts: Iterable[str] = (), echo=print
) -> None:
    """Serve the demo for `run_dir` until interrupted (Ctrl-C).

    Raises:
        InputError: as make_server, or when the port cannot be opened.
    """
    try:
        server = make_server(run_dir, host, port, quiet=False, allow_hosts=allow_hosts)
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    names = ", ".join(tfjs_models(run_dir))
    echo(f"Serving the edgekit demo with {names} at {server.url} (Ctrl-C to stop)")
    if Run.open(run_dir).report_html_path.is_file():
        echo(f"Report: {server.url}{REPORT}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"Listening on {host}: reachable from other machines on this network.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
