"""`edgekit serve`: read-only, GET/HEAD only, right MIME types, only the TF.js models that passed, nothing else of
the run reachable, and a server that no client can starve or bloat."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import make_run, skip_unless
from typer.testing import CliRunner

import toolkit.cli.serve  # noqa: F401  (registers the command on the app)
from exporters.base import Format, TensorSpec, Variant, finish_artifact
from toolkit.cli.app import app
from toolkit.errors import InputError
from toolkit.launcher import command
from toolkit.run import Run
from toolkit.serve.demo import make_server, offers, running, tfjs_models, web_demo_missing
from toolkit.web import assets as web_assets
from toolkit.web import server as static_files
from toolkit.web.server import SECURITY_HEADERS, make_static_server

pytestmark = pytest.mark.unit

SECRET = "do-not-serve-this"
CLI = "import toolkit.cli.serve; from toolkit.cli.app import app; app()"
# What a run holds besides its artifacts; no URL may reach any of it.
INTERNALS = ["manifest.json", "models/float.h5", "checkpoints/best.h5", "references.npz", "evaluations.npz"]


def write_artifact(run: Path, name: str, fmt: str, files: dict[str, bytes]) -> None:
    directory = run / "artifacts" / name
    directory.mkdir(parents=True)
    for file, body in files.items():
        (directory / file).write_bytes(body)
    spec = TensorSpec(shape=[784], dtype="float32")
    scores = TensorSpec(shape=[10], dtype="float32")
    finish_artifact(
        directory,
        run,
        name=name,
        format=Format(fmt),
        variant=Variant.FLOAT32,
        source="float",
        main_file=next(iter(files)),
        input=spec,
        output=scores,
    )


def gate(run: Path, verdicts: dict[str, str], runtime: str = "tfjs-node-wasm") -> None:
    """A report.json as the gate writes it: each named artifact judged on the files it has now."""
    entries = [
        {
            "name": name,
            "runtime": runtime,
            "format": "tfjs",
            "passed": verdict == "passed",
            "verdict": verdict,
            "accuracy": 97.25,
            "accuracy_delta": 0.0,
            "agreement": 100.0,
            "digest": Run.open(run).artifact(name).digest,
        }
        for name, verdict in verdicts.items()
    ]
    passed = all(v == "passed" for v in verdicts.values())
    (run / "report.json").write_text(json.dumps({"passed": passed, "artifacts": entries}))


def edit_contract(run: Path, folder: str, **fields) -> None:
    contract = run / "artifacts" / folder / "contract.json"
    contract.write_text(json.dumps({**json.loads(contract.read_text()), **fields}))


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A run with two TF.js artifacts that passed, a TFLite one, run internals, and secrets beside and above."""
    run = make_run(tmp_path / "run").path
    write_artifact(
        run, "tfjs-a", "tfjs", {"model.json": b'{"format": "layers-model"}', "group1-shard1of1.bin": b"\0" * 8}
    )
    write_artifact(run, "tfjs-b", "tfjs", {"model.json": b"{}"})
    write_artifact(run, "tflite-c", "tflite", {"model.tflite": b"TFL3"})
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "secret": SECRET}))
    for internal in INTERNALS[1:]:
        (run / internal).parent.mkdir(parents=True, exist_ok=True)
        (run / internal).write_text(SECRET)
    (run / "artifacts" / "secret.txt").write_text(SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
    gate(run, {"tfjs-a": "passed", "tfjs-b": "passed"})
    return run


@pytest.fixture
def server(run_dir):
    skip_unless(web_demo_missing())
    with running(make_server(run_dir, port=0)) as url:
        yield url


def request(url: str, path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, bytes]:
    """Send `path` exactly as written (no client-side normalisation of `..` or percent escapes)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = headers or {}
    try:
        connection.putrequest(method, path, skip_accept_encoding=True, skip_host="Host" in headers)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_serves_the_page_models_and_wasm_with_their_mime_types(server):
    cases = {
        "/": "text/html; charset=utf-8",
        "/main.js": "text/javascript; charset=utf-8",
        "/style.css": "text/css; charset=utf-8",
        "/models/index.json": "application/json",
        "/models/tfjs-a/model.json": "application/json",
        "/models/tfjs-a/group1-shard1of1.bin": "application/octet-stream",
        "/tfjs/tf.es2017.min.js": "text/javascript; charset=utf-8",
        "/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm": "application/wasm",
        "/tfjs-lite/tf-lite.js": "text/javascript; charset=utf-8",  # web_demo/dist/: the page's small TF.js
        "/?backend=webgl": "text/html; charset=utf-8",  # the page's own query names the same file
        "/models/index.json?x=1": "application/json",
    }
    for path, mime in cases.items():
        status, headers, body = request(server, path)
        assert (status, headers["content-type"]) == (200, mime), path
        assert int(headers["content-length"]) == len(body) > 0
        assert headers["x-content-type-options"] == "nosniff"
    assert request(server, "/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm")[2][:4] == b"\0asm"
    assert request(server, "/?backend=webgl")[2] == request(server, "/")[2]
    index = json.loads(request(server, "/models/index.json")[2])
    assert [m["name"] for m in index["models"]] == ["tfjs-a", "tfjs-b"]


def test_head_sends_headers_without_body(server):
    status, headers, body = request(server, "/tfjs-backend-wasm/tfjs-backend-wasm.wasm", "HEAD")
    assert status == 200 and headers["content-type"] == "application/wasm"
    assert int(headers["content-length"]) > 0 and body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_every_other_method_is_refused_with_405(server, method):
    status, headers, _ = request(server, "/models/tfjs-a/model.json", method)
    assert status == 405 and headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/../manifest.json",
        "/../../secret.txt",
        "/models/../../manifest.json",
        "/models/tfjs-a/../../secret.txt",
        "/models/tfjs-a/../tfjs-b/model.json",
        "/models/tfjs-a/../../../secret.txt",
        "/%2e%2e/manifest.json",
        "/%2E%2E/%2E%2E/secret.txt",
        "/models/tfjs-a/%2e%2e/%2e%2e/secret.txt",
        "/models/tfjs-a/..%2f..%2fsecret.txt",
        "/models%2ftfjs-a%2f..%2f..%2f..%2fsecret.txt",
        "/%252e%252e/manifest.json",
        "/models/tfjs-a/..%5c..%5csecret.txt",
        "/models/tfjs-a/%00/model.json",
        "/models/tflite-c/model.tflite",
        "/models/secret.txt",
        "/tfjs/../package.json",
        "/tfjs/%2e%2e/%2e%2e/%2e%2e/package.json",
        "/tfjs-backend-wasm/../../tfjs/package.json",
    ],
)
def test_nothing_outside_the_served_folders_is_reachable(server, path):
    status, _, body = request(server, path)
    assert status == 404, path
    assert SECRET.encode() not in body


def test_a_mounted_folder_cannot_leak_through_a_symlink(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "page.json").write_text("{}")
    os.symlink(tmp_path / "secret.txt", folder / "leak.json")
    os.symlink(tmp_path, folder / "up")
    os.symlink(folder / "page.json", folder / "alias.json")  # a link that stays inside its folder is fine
    (tmp_path / "secret.txt").write_text(SECRET)
    with running(make_static_server({"": folder})) as url:
        for path in ["/leak.json", "/up/secret.txt"]:
            status, _, body = request(url, path)
            assert status == 404 and SECRET.encode() not in body, path
        assert request(url, "/alias.json")[0] == 200


def test_only_the_files_a_contract_lists_are_served_and_none_through_a_link(server, run_dir, tmp_path):
    """A model folder serves its contract and the files it lists with their recorded bytes: not a copy of the run's
    model put beside them, and not a listed file swapped for a link out of the folder (even one to the same bytes)."""
    folder = run_dir / "artifacts" / "tfjs-a"
    (folder / "float.h5").write_text(SECRET)
    assert request(server, "/models/tfjs-a/float.h5")[0] == 404
    assert request(server, "/models/tfjs-a/contract.json")[0] == 200
    same_bytes = tmp_path / "shard.bin"
    same_bytes.write_bytes((folder / "group1-shard1of1.bin").read_bytes())
    (folder / "group1-shard1of1.bin").unlink()
    os.symlink(same_bytes, folder / "group1-shard1of1.bin")
    assert request(server, "/models/tfjs-a/group1-shard1of1.bin")[0] == 404


def test_an_artifact_folder_that_is_a_link_is_left_out(run_dir, tmp_path):
    """Reproduced: a link in artifacts/ to a folder elsewhere was served as that folder. Refused: left out."""
    skip_unless(web_demo_missing())
    elsewhere = tmp_path / "elsewhere"
    write_artifact(elsewhere, "tfjs-linked", "tfjs", {"model.json": b"{}"})
    os.symlink(elsewhere / "artifacts" / "tfjs-linked", run_dir / "artifacts" / "tfjs-linked")
    gate(run_dir, {"tfjs-a": "passed", "tfjs-linked": "passed"})
    chosen, left_out = offers(run_dir)
    assert list(chosen) == ["tfjs-a"]
    assert any("'tfjs-linked': its folder is a link" in line for line in left_out), left_out
    with running(make_server(run_dir, port=0)) as url:
        assert request(url, "/models/tfjs-linked/model.json")[0] == 404


def test_missing_run_and_run_without_tfjs_are_one_line_input_errors(tmp_path, run_dir):
    with pytest.raises(InputError, match="no such run directory"):
        make_server(tmp_path / "nope", port=0)
    for name in ["tfjs-a", "tfjs-b"]:
        (run_dir / "artifacts" / name / "contract.json").unlink()
    with pytest.raises(InputError, match=r"has no TF\.js model") as caught:
        tfjs_models(run_dir)
    assert "\n" not in str(caught.value)


def test_cli_reports_a_missing_run_in_one_line_with_exit_code_2(tmp_path):
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {tmp_path / 'nope'}: no such run directory"]


def test_cli_serves_what_passed_says_what_it_left_out_needs_no_tensorflow_and_stops_on_ctrl_c(run_dir, tmp_path):
    skip_unless(web_demo_missing())
    gate(run_dir, {"tfjs-a": "passed", "tfjs-b": "failed"})
    os.symlink(tmp_path / "secret.txt", run_dir / "report.html")
    # At exit the child names the TensorFlow modules it loaded: serving must need none.
    report_modules = (
        "import atexit, sys; atexit.register(lambda: print('loaded:', sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')), file=sys.stderr)); "
    )
    process = subprocess.Popen(
        [sys.executable, "-c", report_modules + CLI, "serve", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert "with tfjs-a at http://127.0.0.1:" in first_line, first_line
        url = first_line.split(" at ")[1].split("/ ")[0] + "/"
        status, headers, _ = request(url, "/models/tfjs-a/model.json")
        assert status == 200 and headers["content-type"] == "application/json"
        assert request(url, "/models/tfjs-b/model.json")[0] == 404
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    lines = stderr.splitlines()
    assert process.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    assert lines[0].startswith("left out: 'tfjs-b' did not pass the gate (tfjs-node-wasm failed"), lines
    link = run_dir / "report.html"
    assert lines[1] == f"not serving {link}: it is a link (to {tmp_path / 'secret.txt'}), not the run's own report"
    assert lines[-1] == "loaded: []"


def test_conditional_get_answers_304_and_a_changed_file_200(server, tmp_path):
    status, headers, body = request(server, "/models/tfjs-a/model.json")
    assert status == 200 and headers["etag"].startswith('"') and "last-modified" in headers
    for conditional in ({"If-None-Match": headers["etag"]}, {"If-Modified-Since": headers["last-modified"]}):
        status, again, body = request(server, "/models/tfjs-a/model.json", headers=conditional)
        assert (status, body, again["etag"]) == (304, b"", headers["etag"]), conditional
    page = tmp_path / "site" / "page.txt"
    page.parent.mkdir()
    page.write_text("first")
    with running(make_static_server({"": page.parent})) as url:
        _, first, _ = request(url, "/page.txt")
        page.write_text("changed")
        os.utime(page, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns + 10**9))
        status, changed, body = request(url, "/page.txt", headers={"If-None-Match": first["etag"]})
    assert status == 200 and body == b"changed" and changed["etag"] != first["etag"]


def test_a_model_file_changed_after_the_check_is_not_served(server, run_dir):
    """What passed is what ships: a file edited while the demo runs is refused, not served as it is now."""
    model = run_dir / "artifacts" / "tfjs-a" / "model.json"
    assert request(server, "/models/tfjs-a/model.json")[0] == 200
    model.write_bytes(b'{"format": "layers-model", "edited": true}')
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))
    status, _, body = request(server, "/models/tfjs-a/model.json")
    assert status == 404 and b"edited" not in body


def test_gzip_when_accepted_for_bundles_and_wasm_not_for_weights(server):
    for path in ["/tfjs/tf.es2017.min.js", "/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm", "/main.js"]:
        _, plain_headers, plain = request(server, path)
        status, headers, body = request(server, path, headers={"Accept-Encoding": "br, gzip;q=0.8"})
        assert status == 200 and headers["content-encoding"] == "gzip", path
        assert gzip.decompress(body) == plain and len(body) < 0.5 * len(plain), path
        assert headers["vary"] == plain_headers["vary"] == "Accept-Encoding"
        assert headers["etag"] != plain_headers["etag"]  # two representations, two strong validators
        # A reload revalidates the compressed copy with its own tag: 304, nothing downloaded again.
        status, _, body = request(server, path, headers={"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})
        assert (status, body) == (304, b"")
    _, headers, _ = request(server, "/tfjs/tf.es2017.min.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in headers
    _, headers, _ = request(server, "/models/tfjs-a/group1-shard1of1.bin", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in headers


@pytest.mark.parametrize(
    "path, method, headers, status",
    [
        ("/nope.js", "GET", {}, 404),
        ("/models/tfjs-a/model.json", "POST", {}, 405),
        ("/models/tfjs-a/model.json", "GET", {"If-None-Match": "*"}, 304),
        ("/", "GET", {"Host": "evil.example:8000"}, 421),
        ("/", "GET", {"Host": "bad host"}, 400),
    ],
)
def test_every_response_carries_the_security_headers(server, path, method, headers, status):
    got, received, _ = request(server, path, method, headers)
    assert got == status
    for name, value in SECURITY_HEADERS.items():
        assert received[name.lower()] == value, (status, name)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:8000", "127.0.0.1:1"])
def test_loopback_names_are_answered(server, host):
    assert request(server, "/", headers={"Host": host})[0] == 200


def test_a_foreign_host_gets_421_unless_allowed(run_dir):
    """421 Misdirected Request: a DNS-rebinding page sends its own name as Host; 400 is for a malformed Host."""
    skip_unless(web_demo_missing())
    with running(make_server(run_dir, port=0)) as url:
        status, _, body = request(url, "/models/index.json", headers={"Host": "rebind.example:8000"})
        assert status == 421 and b"tfjs-a" not in body
        assert request(url, "/", headers={"Host": "192.168.1.7"})[0] == 421  # bound to loopback: not our address
    with running(make_server(run_dir, port=0, allow_hosts=["Demo.Lan"])) as url:
        assert request(url, "/models/index.json", headers={"Host": "demo.lan:8000"})[0] == 200
        assert request(url, "/", headers={"Host": "other.lan"})[0] == 421


def raw_connection(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return socket.create_connection((host, int(port)), timeout=20)


def closed_by_server(connection: socket.socket) -> bool:
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def test_held_idle_connections_use_a_bounded_pool_and_are_closed_after_the_idle_timeout(run_dir, monkeypatch):
    skip_unless(web_demo_missing())
    monkeypatch.setattr(static_files, "IDLE_TIMEOUT_S", 0.5)
    server = make_server(run_dir, port=0)
    with running(server) as url:
        threads = threading.active_count()
        held = [raw_connection(url) for _ in range(3 * server.workers)]
        time.sleep(0.3)
        # 192 idle connections, not one more thread (fewer only when an earlier test's workers finish exiting).
        assert threading.active_count() <= threads
        assert request(url, "/")[0] == 200  # waiting connections hold no worker
        # Each is closed after 0.5 s of silence.
        assert all(closed_by_server(connection) for connection in held)
        for connection in held:
            connection.close()
        assert request(url, "/")[0] == 200  # and the server still answers


def test_headers_trickling_in_are_cut_off_at_the_header_deadline(run_dir, monkeypatch):
    """A slow-loris client (one byte every 0.1 s, well inside the idle timeout) is closed after the header deadline."""
    skip_unless(web_demo_missing())
    monkeypatch.setattr(static_files, "HEADER_TIMEOUT_S", 1.0)
    with running(make_server(run_dir, port=0)) as url:
        connection = raw_connection(url)
        started = time.monotonic()
        with pytest.raises(OSError):
            for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 1000:
                connection.send(bytes([byte]))
                time.sleep(0.1)
        assert time.monotonic() - started < 5
        connection.close()


def test_client_disconnects_leave_no_traceback_on_the_console(run_dir):
    skip_unless(web_demo_missing())
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().split(" at ")[1].split(" ")[0]
        for _ in range(30):
            connection = raw_connection(url)
            connection.sendall(b"GET /tfjs/tf.es2017.min.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert connection.recv(100).startswith(b"HTTP/1.1 200")  # the server is writing 1.1 MB now
            # Reset instead of a clean close: the server's writes then fail with ECONNRESET or EPIPE.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()
        assert request(url, "/")[0] == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "Traceback" not in stderr and "Error" not in stderr, stderr[-2000:]
    assert '"GET / HTTP/1.1" 200' in stderr  # the request log itself stays


def test_index_holds_variant_size_and_each_models_verdict_and_links_the_report(run_dir):
    skip_unless(web_demo_missing())
    edit_contract(run_dir, "tfjs-b", variant="float16")
    evaluations = [
        {"name": "tfjs-a", "runtime": "tfjs-node-wasm", "verdict": "passed", "accuracy": 98.9},
        {"name": "tfjs-a", "runtime": "tfjs-browser-wasm", "verdict": "passed", "accuracy": 98.875},
        {"name": "tfjs-a", "runtime": "tfjs-browser-wasm", "verdict": "failed", "accuracy": 12.5, "digest": "older"},
        {"name": "tfjs-b", "runtime": "tfjs-node-wasm", "verdict": "passed", "accuracy": 97.25},
    ]
    for entry in evaluations:
        entry.setdefault("digest", Run.open(run_dir).artifact(entry["name"]).digest)
        entry |= {"format": "tfjs", "passed": entry["verdict"] == "passed", "accuracy_delta": 0.0, "agreement": 100.0}
    (run_dir / "report.json").write_text(json.dumps({"passed": True, "artifacts": evaluations}))
    with running(make_server(run_dir, port=0)) as url:
        index = json.loads(request(url, "/models/index.json")[2])
        assert index["report"] is None and request(url, "/report.html")[0] == 404
    (run_dir / "report.html").write_text("<!doctype html><title>report</title><p>PASSED</p>")
    with running(make_server(run_dir, port=0)) as url:
        index = json.loads(request(url, "/models/index.json")[2])
        status, headers, body = request(url, "/report.html")
        contracts = {n: json.loads(request(url, f"/models/{n}/contract.json")[2]) for n in ("tfjs-a", "tfjs-b")}
        page_policies = {path: request(url, path)[1]["content-security-policy"] for path in ("/", "/index.html")}
    # The page's one inline script, its import map (for LiteRT.js), is allowed by its sha256; the rest as always.
    html = (web_assets.locate().site / "index.html").read_text()
    import_map = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert len(re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)) == 1  # the one inline script
    for policy in page_policies.values():
        assert policy.replace(f" 'sha256-{digest}'", "") == SECURITY_HEADERS["Content-Security-Policy"]
        assert policy.count("'sha256-") == 1
    assert index == {
        "models": [
            {
                "name": "tfjs-a",
                "url": "models/tfjs-a/",
                "variant": "float32",
                "size_bytes": len(b'{"format": "layers-model"}') + 8,  # the contract's files
                # the browser's verdict about these files, not the older one about other files
                "gate": {"passed": True, "verdict": "passed", "accuracy": 98.875, "runtime": "tfjs-browser-wasm"},
                # every runtime's verdict about these files, by its current name (the page shows its backend's)
                "verdicts": {"tfjs-node-wasm": "passed", "tfjs-chromium-wasm": "passed"},
                "ops": None,  # a layers model: the page loads the full TF.js for it
                # as /models/tfjs-a/contract.json serves it: the page fetches the files it lists at once
                "contract": contracts["tfjs-a"],
            },
            {
                "name": "tfjs-b",
                "url": "models/tfjs-b/",
                "variant": "float16",
                "size_bytes": len(b"{}"),
                "gate": {"passed": True, "verdict": "passed", "accuracy": 97.25, "runtime": "tfjs-node-wasm"},
                "verdicts": {"tfjs-node-wasm": "passed"},
                "ops": None,
                "contract": contracts["tfjs-b"],
            },
        ],
        "litertjs": [],  # no pixels .tflite in this run: nothing for ?backend=litertjs
        "report": "report.html",
    }
    assert status == 200 and b"PASSED" in body and headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'none'" in headers["content-security-policy"]


def test_the_browser_runtime_does_not_import_the_serve_step():
    code = (
        "import sys; from toolkit.runtimes import tfjs_browser; tfjs_browser.unavailable(); "
        "import inspect; src = inspect.getsource(tfjs_browser); "
        "assert 'toolkit.serve.demo' not in sys.modules and 'toolkit.serve.demo' not in src, 'imports serve'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.unit
def test_allowed_hosts_for_loopback_a_lan_address_and_a_wildcard():
    loopback = static_files.allowed_hosts("127.0.0.1")
    lan = static_files.allowed_hosts("192.168.1.7", ["Demo.Lan"])
    wildcard = static_files.allowed_hosts("0.0.0.0")
    cases = [
        (loopback, "localhost", True),
        (loopback, "192.168.1.7", False),
        (lan, "192.168.1.7", True),
        (lan, "demo.lan", True),
        (lan, "localhost", False),  # bound to the LAN address only: a local page under `localhost` cannot reach it
        (wildcard, "10.0.0.5", True),  # any of the machine's addresses, typed by a user
        (wildcard, "fe80::1", True),
        (wildcard, "rebind.example", False),
    ]
    for allowed, name, expected in cases:
        assert static_files.host_allowed(name, allowed) is expected, (sorted(allowed), name)
    assert static_files.host_name("[::1]:8000") == "::1" and static_files.host_name("a b") is None


# Confinement (issue 22, N6 and N7): a run's report.html and its contracts cannot make the server reach past the
# artifact's own folder.


@pytest.mark.parametrize("path", [".", "/etc", "../x", "artifacts", "artifacts/tfjs-b", "artifacts/../models", "RUN"])
def test_a_contract_path_never_mounts_anything_but_the_artifacts_own_folder(run_dir, path):
    """Reproduced: `path: "."` served the whole run (models/float.h5, manifest, checkpoints). Refused: whatever the
    path (RUN: the run's own absolute path), that artifact is left out with one line, and no URL reaches the run."""
    skip_unless(web_demo_missing())
    path = str(run_dir) if path == "RUN" else path
    edit_contract(run_dir, "tfjs-a", path=path)
    for file in ("model.json", "group1-shard1of1.bin"):  # its files where "." points too: only the path is wrong
        (run_dir / file).write_bytes((run_dir / "artifacts" / "tfjs-a" / file).read_bytes())
    chosen, left_out = offers(run_dir)
    assert list(chosen) == ["tfjs-b"]
    assert left_out == [
        f"left out: 'tfjs-a': its contract says name 'tfjs-a', path {path!r}; an artifact lives in its own folder "
        "artifacts/tfjs-a: export it again"
    ]
    with running(make_server(run_dir, port=0)) as url:
        outside = [*INTERNALS, "artifacts/tfjs-b/model.json", "artifacts/secret.txt"]
        for url_path in [
            *(f"/{p}" for p in outside),
            *(f"/models/{n}/{p}" for n in ("tfjs-a", "tfjs-b") for p in outside),
        ]:
            status, _, body = request(url, url_path)
            assert status == 404 and SECRET.encode() not in body, url_path
        assert request(url, "/models/tfjs-a/model.json")[0] == 404
        assert request(url, "/models/tfjs-b/model.json")[0] == 200


def test_a_name_that_is_not_a_plain_folder_name_is_left_out(run_dir):
    edit_contract(run_dir, "tfjs-a", name="../models")
    chosen, left_out = offers(run_dir)
    assert list(chosen) == ["tfjs-b"]
    assert left_out == ["left out: artifact name '../models' is not a plain folder name: export the run again"]


def test_cli_says_what_is_wrong_with_a_contract_path_not_that_it_cannot_listen(run_dir):
    """Reproduced: `path: "/etc"` stopped with "cannot listen on 127.0.0.1". Refused: one line naming the path."""
    edit_contract(run_dir, "tfjs-a", path="/etc")
    edit_contract(run_dir, "tfjs-b", path="/etc")
    result = CliRunner().invoke(app, ["serve", str(run_dir), "--port", "0"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert "cannot listen" not in result.output
    assert [line.split(": ", 2)[:2] for line in lines[:2]] == [["left out", "'tfjs-a'"], ["left out", "'tfjs-b'"]]
    assert all("path '/etc'" in line for line in lines[:2])
    assert lines[2:] == [
        f"error: no TF.js model of {run_dir} passed the gate as its files are now (2 left out): "
        f"run `{command('validate', run_dir)}`"
    ]


@pytest.mark.parametrize("target", ["/etc/passwd", "outside the run", "manifest.json", "dangling"])
def test_a_report_that_is_a_link_is_never_served(run_dir, tmp_path, target):
    """Reproduced (N6): report.html as a link to /etc/passwd was served (200, root:x:0:0). Refused: 404 and no
    report in the index, wherever the link points (out of the run, or at one of its internals)."""
    skip_unless(web_demo_missing())
    targets = {
        "/etc/passwd": Path("/etc/passwd"),
        "outside the run": tmp_path / "secret.txt",
        "manifest.json": run_dir / "manifest.json",
        "dangling": tmp_path / "nothing-here",
    }
    os.symlink(targets[target], run_dir / "report.html")
    with running(make_server(run_dir, port=0)) as url:
        assert json.loads(request(url, "/models/index.json")[2])["report"] is None
        status, _, body = request(url, "/report.html")
    assert status == 404 and b"root:" not in body and SECRET.encode() not in body


def test_a_report_swapped_for_a_link_while_serving_is_not_served(run_dir, tmp_path):
    skip_unless(web_demo_missing())
    (run_dir / "report.html").write_text("<!doctype html><p>PASSED</p>")
    with running(make_server(run_dir, port=0)) as url:
        assert request(url, "/report.html")[0] == 200
        (run_dir / "report.html").unlink()
        os.symlink(tmp_path / "secret.txt", run_dir / "report.html")
        status, _, body = request(url, "/report.html")
    assert status == 404 and SECRET.encode() not in body


# Ship only what passed (issue 22, item 2).


def test_only_models_that_passed_on_their_current_files_are_offered(run_dir):
    """Failed, inconclusive, never judged, or judged on other files: left out with the reason and the remedy."""
    skip_unless(web_demo_missing())
    for name in ("tfjs-c", "tfjs-d", "tfjs-e"):
        write_artifact(run_dir, name, "tfjs", {"model.json": name.encode()})
    gate(run_dir, {"tfjs-a": "passed", "tfjs-b": "failed", "tfjs-c": "inconclusive", "tfjs-e": "passed"})
    (run_dir / "artifacts" / "tfjs-e" / "model.json").write_bytes(b"edited after the gate")
    chosen, left_out = offers(run_dir)
    assert list(chosen) == ["tfjs-a"]
    assert [line.split("'")[1] for line in left_out] == ["tfjs-b", "tfjs-c", "tfjs-d", "tfjs-e"]
    assert "did not pass the gate (tfjs-node-wasm failed" in left_out[0]
    assert "did not pass the gate (tfjs-node-wasm inconclusive" in left_out[1]
    assert left_out[2].endswith(
        f"not about the files of 'tfjs-d' (exported again, or changed since): run `{command('validate', run_dir)}`"
    )
    assert "files do not match its contract" in left_out[3] and left_out[3].endswith("export it again")
    with running(make_server(run_dir, port=0)) as url:
        index = json.loads(request(url, "/models/index.json")[2])
        assert [(m["name"], m["gate"]["verdict"]) for m in index["models"]] == [("tfjs-a", "passed")]
        for name in ("tfjs-b", "tfjs-c", "tfjs-d", "tfjs-e"):
            for file in ("model.json", "contract.json"):
                assert request(url, f"/models/{name}/{file}")[0] == 404, (name, file)


def test_cli_with_nothing_that_passed_exits_2_with_the_remedy(run_dir):
    (run_dir / "report.json").unlink()
    result = CliRunner().invoke(app, ["serve", str(run_dir), "--port", "0"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 3 and all("has not been through the gate" in line for line in lines[:2])
    assert lines[2].startswith("error: ") and lines[2].endswith(f"run `{command('validate', run_dir)}`")


# Starvation and bloat (issue 22, N8, N9, S4): tested on the server itself, with a pool small enough to fill.


@pytest.fixture
def site(tmp_path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><p>first</p>")
    (folder / "b.txt").write_text("second")
    return folder


def test_keep_alive_clients_trickling_requests_cannot_starve_a_new_client(site):
    """Reproduced (N8): 70 keep-alive clients sending one request every 4 s held all 64 workers, and a new request
    timed out after 20 s. Here the same ratio: 9 clients, 8 workers, a request every 0.3 s each."""
    stop, failures = threading.Event(), []

    def trickle(port: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while not stop.is_set():
                connection.request("GET", "/index.html")
                response = connection.getresponse()
                response.read()
                if response.status != 200 or response.will_close:
                    failures.append(response.status)
                stop.wait(0.3)
        except (OSError, http.client.HTTPException) as error:
            failures.append(error)
        finally:
            connection.close()

    server = make_static_server({"": site}, workers=8)
    with running(server) as url:
        clients = [threading.Thread(target=trickle, args=(server.server_address[1],)) for _ in range(9)]
        for client in clients:
            client.start()
        waits = []
        try:
            time.sleep(0.5)
            for _ in range(5):
                began = time.monotonic()
                assert request(url, "/index.html")[0] == 200
                waits.append(time.monotonic() - began)
        finally:
            stop.set()
            for client in clients:
                client.join()
    assert failures == [] and max(waits) < 1.0, (failures, waits)


def test_a_request_queued_behind_busy_workers_gets_503_at_its_deadline(site, monkeypatch):
    """Reproduced (S4): a connection waiting for a worker had no deadline. Refused: 503 after QUEUE_TIMEOUT_S."""
    monkeypatch.setattr(static_files, "QUEUE_TIMEOUT_S", 0.5)
    (site / "big.bin").write_bytes(bytes(32 * 2**20))  # not gzipped: it fills every socket buffer on the way
    server = make_static_server({"": site}, workers=1)
    with running(server) as url:
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(server.server_address)
        reader.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never reads: the worker blocks
        try:
            time.sleep(0.3)
            began = time.monotonic()
            status, headers, body = request(url, "/index.html")
            waited = time.monotonic() - began
        finally:
            reader.close()
        assert request(url, "/index.html")[0] == 200  # the worker is free again
    assert (status, headers["retry-after"], headers["connection"]) == (503, "1", "close")
    assert 0.4 < waited < 3, waited
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value


def test_the_request_head_is_capped_in_total_not_per_line(site):
    """Reproduced (N9): 95 headers just under the 64 kB line limit were each read whole (64 such clients held
    910 MB). Refused: 431 once request line and headers pass MAX_HEADER_BYTES together; a long request line: 414."""
    with running(make_static_server({"": site})) as url:
        fits = {f"X-Pad-{i}": "a" * 600 for i in range(95)}  # 58 kB in all
        assert request(url, "/index.html", headers=fits)[0] == 200
        fat = {f"X-Pad-{i}": "a" * 1000 for i in range(95)}  # 95 kB, each line far under 64 kB
        status, headers, _ = request(url, "/index.html", headers=fat)
        assert (status, headers["connection"]) == (431, "close")
        assert request(url, "/" + "a" * 70_000)[0] == 414
        assert request(url, "/index.html")[0] == 200


def test_at_the_connection_cap_a_newcomer_closes_the_longest_idle_connection(site):
    server = make_static_server({"": site}, workers=2, max_connections=8)
    with running(server) as url:
        held = []
        for _ in range(8):
            held.append(raw_connection(url))
            time.sleep(0.02)  # accepted in this order
        time.sleep(0.3)
        assert request(url, "/index.html")[0] == 200
        assert closed_by_server(held[0])
        held[1].sendall(b"GET /b.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert held[1].recv(12) == b"HTTP/1.1 200"  # the others stay
        for connection in held:
            connection.close()


def test_pipelined_requests_are_answered_in_order_and_a_body_ends_the_connection(site):
    with running(make_static_server({"": site})) as url:
        connection = raw_connection(url)
        request_ = b"GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
        connection.sendall(request_ % (b"index.html", b"") + request_ % (b"b.txt", b"Content-Length: 52\r\n"))
        connection.sendall(request_ % (b"index.html", b""))  # in the body: never taken for a request
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        connection.close()
    assert received.count(b"HTTP/1.1 200") == 2
    assert received.index(b"first") < received.index(b"second") and received.endswith(b"second")
