"""`edgekit serve`: the web demo with the run's TF.js models that passed the gate, and its report, on the read-only
static-file server."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from exporters.base import CONTRACT_FILE, Artifact, Format
from toolkit.errors import InputError, ParityError, first_line
from toolkit.gate.trust import shippable
from toolkit.gate.verdict import entry_verdict
from toolkit.launcher import command
from toolkit.run import Run
from toolkit.runtimes import runtime_name
from toolkit.runtimes.litertjs_browser import page_policy
from toolkit.runtimes.litertjs_browser import takes as litertjs_takes
from toolkit.serve.samples import sample_entities
from toolkit.web import assets as web_assets
from toolkit.web.server import Entity, ServedFile, StaticServer, make_entity, make_static_server, running, url_segments

__all__ = [
    "Offer",
    "litertjs_models",
    "make_model_server",
    "make_server",
    "model_index",
    "offers",
    "own_directory",
    "running",
    "serve",
    "tfjs_models",
    "web_demo_missing",
]

REPORT = "report.html"  # the URL path the report is served at
# Whose verdict a model's entry in the index shows: the browser the demo runs in, then Node's identical kernels.
# (tfjs-browser-wasm: tfjs-chromium-wasm's name in reports written before the browser matrix.)
GATE_RUNTIMES = ("tfjs-chromium-wasm", "tfjs-browser-wasm", "tfjs-node-wasm")
# report.html is self-contained (inline styles, images as data: URLs) and needs no script: it runs none, so a label
# or model name that smuggled markup into it still cannot execute.
REPORT_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# An artifact's name becomes one folder under artifacts/ and one URL segment under /models/.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Offer:
    """A TF.js artifact as the demo serves it: the contract's bytes (as checked) and its own directory, resolved."""

    artifact: Artifact
    directory: Path
    contract: bytes


def own_directory(run: Run, name: str) -> Path:
    """RUN/artifacts/<name>, resolved, when it is that very directory (no link) and its contract names it.

    Whatever a contract's `path` says, only this directory is ever served for the artifact.

    Raises:
        InputError: the name is not a plain folder name, the contract's name or path is another, or the
            directory is a link (to anywhere).
    """
    if not PLAIN_NAME.fullmatch(name) or ".." in name:
        raise InputError(f"artifact name {name!r} is not a plain folder name: export the run again")
    artifact = run.artifact(name)
    if artifact.name != name or artifact.path != f"artifacts/{name}":
        raise InputError(
            f"'{name}': its contract says name {artifact.name!r}, path {artifact.path!r}; an artifact lives in "
            f"its own folder artifacts/{name}: export it again"
        )
    real = run.artifact_dir(name).resolve()
    if real != Run(run.path.resolve()).artifact_dir(name):
        raise InputError(f"'{name}': its folder is a link (to {real}), not a folder of the run: export it again")
    return real


def _offer(run: Run, name: str, *, check: bool) -> Offer:
    """The artifact `name` as served: confined to its own directory and, with `check`, shippable."""
    directory = own_directory(run, name)
    try:
        contract = (directory / CONTRACT_FILE).read_bytes()
        artifact = shippable(run, name) if check else run.artifact(name)
        same = Artifact.from_contract(json.loads(contract)) == artifact
    except OSError as error:
        raise InputError(f"'{name}': cannot read its files ({first_line(error)})") from None
    except (KeyError, TypeError, ValueError):
        same = False
    if not same:
        raise InputError(f"'{name}': its contract changed while it was checked: start again")
    return Offer(artifact, directory, contract)


def offers(run_dir: Path) -> tuple[dict[str, Offer], list[str]]:
    """The TF.js artifacts of a run that may be served, and the pixels .tflite files the page runs in LiteRT.js,
    by name, and one line for each that may not (why, and the remedy). An artifact may be served when its files are
    those its contract lists and the run's current report judged these very files and they passed
    (toolkit.gate.trust.shippable), from its own folder only.

    Raises:
        InputError: the run does not exist or has no TF.js artifact.
    """
    run = Run.open(run_dir)
    names = sorted({a.name for a in run.artifacts(Format.TFJS)})
    if not names:
        raise InputError(f"{run.path} has no TF.js model: run `{command('export', run.path)}` first")
    names += sorted(litertjs_models(run.path))
    chosen, left_out = {}, []
    for name in names:
        try:
            chosen[name] = _offer(run, name, check=True)
        except (InputError, ParityError) as error:
            left_out.append(f"left out: {error}")
    return chosen, left_out


def tfjs_models(run_dir: Path) -> dict[str, Path]:
    """Every TF.js artifact of a run (passed or not): name -> its own directory, in name order.

    Raises:
        InputError: the run directory does not exist, holds no TF.js artifact, or one is not in its own folder.
    """
    run = Run.open(run_dir)
    models = {a.name: own_directory(run, a.name) for a in run.artifacts(Format.TFJS)}
    if not models:
        raise InputError(f"{run.path} has no TF.js model: run `{command('export', run.path)}` first")
    return dict(sorted(models.items()))


def litertjs_models(run_dir: Path) -> dict[str, Path]:
    """The .tflite artifacts of a run that the page runs in LiteRT.js (the pixels artifacts), passed or not: name ->
    its own directory, in name order; none for a run exported before them.

    Raises:
        InputError: the run directory does not exist, or one is not in its own folder.
    """
    run = Run.open(run_dir)
    found = {a.name: own_directory(run, a.name) for a in run.artifacts(Format.TFLITE) if litertjs_takes(a)}
    return dict(sorted(found.items()))


def web_demo_missing() -> str | None:
    """Why the demo cannot be served from this installation, or None when it can."""
    return web_assets.missing()


def _gate(artifact: Artifact, evaluations: list[dict]) -> dict:
    # Only what the report says about these very files counts.
    mine = [e for e in evaluations if e.get("name") == artifact.name and e.get("digest") == artifact.digest]
    chosen = next((e for runtime in GATE_RUNTIMES for e in mine if e.get("runtime") == runtime), None)
    chosen = chosen or (mine[0] if mine else None)
    if chosen is None:
        return {"passed": None, "verdict": None, "accuracy": None, "runtime": None}
    return {
        "passed": entry_verdict(chosen) == "passed",
        "verdict": entry_verdict(chosen),
        "accuracy": chosen.get("accuracy"),
        "runtime": chosen.get("runtime"),
    }


def graph_ops(directory: Path, artifact: Artifact) -> list[str] | None:
    """The op names of a TF.js graph model, sorted, from its model.json (None for a layers model or an unreadable
    file): the page loads its small TF.js only when it has every op of every model (web_demo/site/boot.js)."""
    if artifact.model_type != "graph-model":
        return None
    try:
        topology = json.loads((directory / artifact.main_file).read_bytes())["modelTopology"]
        nodes = list(topology.get("node", []))
        for function in topology.get("library", {}).get("function", []):
            nodes += function.get("nodeDef", [])
        return sorted({str(node["op"]) for node in nodes})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _verdicts(artifact: Artifact, evaluations: list[dict]) -> dict[str, str]:
    """Runtime (by its current name) -> verdict of the report's evaluations of these very files: the page shows the
    one of the engine and backend it runs on."""
    mine = [e for e in evaluations if e.get("name") == artifact.name and e.get("digest") == artifact.digest]
    return {runtime_name(e["runtime"]): entry_verdict(e) for e in mine if isinstance(e.get("runtime"), str)}


def model_index(
    artifacts: Iterable[Artifact],
    run: Run | None = None,
    report: bool = False,
    ops: dict[str, list[str] | None] | None = None,
    contracts: dict[str, dict] | None = None,
) -> dict:
    """The demo's /models/index.json: each model with its variant, size, graph ops (`ops`: name -> graph_ops), gate
    verdict and the verdict of each runtime that evaluated it, its contract as served (`contracts`: name -> contract;
    the page then fetches model.json and the weights it lists at once), and the report's URL. TF.js models are
    under `models`, the .tflite files the page runs in LiteRT.js (`?backend=litertjs`) under `litertjs`."""
    try:
        document = (run.report() if run is not None else None) or {}
    except InputError:
        document = {}  # an unreadable report shows as "not validated"
    evaluations = [e for e in document.get("artifacts", []) if isinstance(e, dict)]
    artifacts = list(artifacts)
    tflite = {a.name for a in artifacts if a.format != Format.TFJS}
    entries = [
        {
            "name": artifact.name,
            "url": f"models/{artifact.name}/",
            "variant": artifact.variant.value,
            "size_bytes": artifact.size_bytes,
            "gate": _gate(artifact, evaluations),
            "verdicts": _verdicts(artifact, evaluations),
            "ops": (ops or {}).get(artifact.name),
            **({"contract": contracts[artifact.name]} if artifact.name in (contracts or {}) else {}),
        }
        for artifact in artifacts
    ]
    return {
        "models": [e for e in entries if e["name"] not in tflite],
        "litertjs": [e for e in entries if e["name"] in tflite],
        "report": REPORT if report else None,
    }


def _model_files(offer: Offer) -> dict[str, Entity | ServedFile]:
    """URL path -> what it serves for one model: its contract as checked, and exactly the files the contract lists,
    each only while it holds the bytes the contract records and stays inside the artifact's folder."""
    base = f"/models/{offer.artifact.name}/"
    served: dict[str, Entity | ServedFile] = {base + CONTRACT_FILE: make_entity(offer.contract, "application/json")}
    for file, recorded in offer.artifact.files.items():
        if url_segments(f"/{file}") is not None and file != CONTRACT_FILE:
            served[base + file] = ServedFile(offer.directory / file, offer.directory, recorded["sha256"])
    return served


def servable_report(run: Run) -> tuple[ServedFile | None, str | None]:
    """The run's report.html as served, or None and why not (None: there is none)."""
    path = run.report_html_path
    if not path.is_file() and not path.is_symlink():
        return None, None
    real = Run(run.path.resolve()).report_html_path
    if path.resolve() != real or not real.is_file():
        return None, f"not serving {path}: it is a link (to {path.resolve()}), not the run's own report"
    return ServedFile(path, real), None  # its root is the file itself: no link may take its place later


def _listen(
    chosen: dict[str, Offer], run: Run | None, host: str, port: int, quiet: bool, allow_hosts: Iterable[str]
) -> StaticServer:
    report = servable_report(run)[0] if run is not None else None
    ops = {name: graph_ops(offer.directory, offer.artifact) for name, offer in chosen.items()}
    contracts = {name: json.loads(offer.contract) for name, offer in chosen.items()}
    index = model_index([o.artifact for o in chosen.values()], run, report is not None, ops, contracts)
    generated = {"/models/index.json": make_entity(json.dumps(index).encode(), "application/json")}
    for offer in chosen.values():
        generated.update(_model_files(offer))
    generated.update(sample_entities(run.path if run is not None else None))  # the page's strip of test images
    if report is not None:
        generated[f"/{REPORT}"] = report  # read per request: a new report shows at once
    web = web_assets.locate()
    # The page's inline import map (LiteRT.js's bare import) is allowed by its sha256, nothing else inline.
    policies = {
        **page_policy(web.site, "index.html", ("/", "/index.html")),
        **page_policy(web.site),  # litert-eval.html, which `edgekit benchmark` loads from this server
        f"/{REPORT}": REPORT_POLICY,
    }
    try:
        return make_static_server(web.mounts(), generated, host, port, quiet, allow_hosts, policies)
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def make_model_server(
    models: dict[str, Path],
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    run_dir: Path | None = None,
    allow_hosts: Iterable[str] = (),
) -> StaticServer:
    """A server for the demo site, the TF.js bundles and the given artifact folders (RUN/artifacts/<name>), whether
    they passed or not (to measure and test them; `edgekit serve` uses make_server): each under /models/<name>/ with
    its contract and the files it lists, the model index and, when `run_dir` has one, its report.html.

    Raises:
        InputError: the web demo or its npm packages are missing and cannot be installed, a folder is not an
            artifact in its own folder, or the address cannot be bound.
    """
    chosen = {}
    for directory in map(Path, models.values()):
        offer = _offer(Run(directory.resolve().parent.parent), directory.resolve().name, check=False)
        chosen[offer.artifact.name] = offer
    run = Run.open(run_dir) if run_dir is not None else None
    return _listen(chosen, run, host, port, quiet, allow_hosts)


def _shippable_offers(run_dir: Path, warn: Callable[[str], None]) -> dict[str, Offer]:
    chosen, left_out = offers(run_dir)
    for line in left_out:
        warn(line)
    if not any(offer.artifact.format is Format.TFJS for offer in chosen.values()):  # the page starts with TF.js
        raise InputError(
            f"no TF.js model of {run_dir} passed the gate as its files are now ({len(left_out)} left out): "
            f"run `{command('validate', run_dir)}`"
        )
    return chosen


def make_server(
    run_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    quiet: bool = True,
    allow_hosts: Iterable[str] = (),
    warn: Callable[[str], None] = lambda line: None,
) -> StaticServer:
    """A server for the demo with the TF.js artifacts of `run_dir` that may ship (see offers); `warn` gets one line
    per artifact left out.

    Raises:
        InputError: as offers, when no artifact may be served, or the address cannot be bound.
    """
    return _listen(_shippable_offers(run_dir, warn), Run.open(run_dir), host, port, quiet, allow_hosts)


def serve(
    run_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_hosts: Iterable[str] = (),
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> None:
    """Serve the demo for `run_dir` until interrupted (Ctrl-C); `warn` gets what is left out and why.

    Raises:
        InputError: as make_server.
    """
    chosen = _shippable_offers(run_dir, warn)
    run = Run.open(run_dir)
    server = _listen(chosen, run, host, port, False, allow_hosts)
    echo(f"Serving the edgekit demo with {', '.join(chosen)} at {server.url} (Ctrl-C to stop)")
    report, why_not = servable_report(run)
    if report is not None:
        echo(f"Report: {server.url}{REPORT}")
    elif why_not:
        warn(why_not)
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"Listening on {host}: reachable from other machines on this network.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
