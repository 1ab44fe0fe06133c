"""`edgekit serve`: read-only, GET/HEAD only, right MIME types, and nothing outside the served folders reachable."""

from __future__ import annotations

import gzip
import http.client
import json
import os
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
from toolkit.serve.demo import make_server, running, tfjs_models, web_demo_missing
from toolkit.web import server as static_files
from toolkit.web.server import SECURITY_HEADERS

pytestmark = pytest.mark.unit

SECRET = "do-not-serve-this"
CLI = "import toolkit.cli.serve; from toolkit.cli.app import app; app()"


def write_artifact(run: Path, name: str, fmt: str, files: dict[str, bytes]) -> None:
    directory = run / "artifacts" / name
    directory.mkdir(parents=True)
    for file, body in files.items():
        (directory / file).write_bytes(body)
    spec = TensorSpec(shape=[784], dtype="float32")
    finish_artifact(
        directory,
        run,
        name=name,
        format=Format(fmt),
        variant=Variant.FLOAT32,
        source="float",
        main_file=next(iter(files)),
        input=spec,
        output=spec,
    )


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A run with two TF.js artifacts, a TFLite one, and secrets beside and above them."""
    run = make_run(tmp_path / "run").path
    write_artifact(
        run, "tfjs-a", "tfjs", {"model.json": b'{"format": "layers-model"}', "group1-shard1of1.bin": b"\0" * 8}
    )
    write_artifact(run, "tfjs-b", "tfjs", {"model.json": b"{}"})
    write_artifact(run, "tflite-c", "tflite", {"model.tflite": b"TFL3"})
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "secret": SECRET}))
    (run / "artifacts" / "secret.txt").write_text(SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
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
    }
    for path, mime in cases.items():
        status, headers, body = request(server, path)
        assert (status, headers["content-type"]) == (200, mime), path
        assert int(headers["content-length"]) == len(body) > 0
        assert headers["x-content-type-options"] == "nosniff"
    assert request(server, "/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm")[2][:4] == b"\0asm"
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


def test_a_served_folder_cannot_leak_through_a_symlink(run_dir, tmp_path):
    skip_unless(web_demo_missing())
    model = run_dir / "artifacts" / "tfjs-a"
    os.symlink(tmp_path / "secret.txt", model / "leak.json")
    os.symlink(run_dir, model / "up")
    os.symlink(model / "model.json", model / "alias.json")  # a link that stays inside its folder is fine
    with running(make_server(run_dir, port=0)) as url:
        for path in ["/models/tfjs-a/leak.json", "/models/tfjs-a/up/manifest.json"]:
            status, _, body = request(url, path)
            assert status == 404 and SECRET.encode() not in body, path
        assert request(url, "/models/tfjs-a/alias.json")[0] == 200


def test_a_symlinked_artifact_folder_pointing_elsewhere_is_served_only_itself(run_dir, tmp_path):
    """An artifact directory that is itself a link is served as its target, and only its target."""
    skip_unless(web_demo_missing())
    elsewhere = tmp_path / "elsewhere"
    write_artifact(elsewhere, "tfjs-linked", "tfjs", {"model.json": b"{}"})
    os.symlink(elsewhere / "artifacts" / "tfjs-linked", run_dir / "artifacts" / "tfjs-linked")
    with running(make_server(run_dir, port=0)) as url:
        assert request(url, "/models/tfjs-linked/model.json")[0] == 200
        assert request(url, "/models/tfjs-linked/../../secret.txt")[0] == 404


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


def test_cli_serves_until_stopped(run_dir):
    skip_unless(web_demo_missing())
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert "tfjs-a, tfjs-b" in first_line and "http://127.0.0.1:" in first_line, first_line
        url = first_line.split(" at ")[1].split("/ ")[0] + "/"
        status, headers, _ = request(url, "/models/tfjs-b/model.json")
        assert status == 200 and headers["content-type"] == "application/json"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_conditional_get_answers_304_and_a_changed_file_200(server, run_dir):
    status, headers, body = request(server, "/models/tfjs-a/model.json")
    assert status == 200 and headers["etag"].startswith('"') and "last-modified" in headers
    for conditional in ({"If-None-Match": headers["etag"]}, {"If-Modified-Since": headers["last-modified"]}):
        status, again, body = request(server, "/models/tfjs-a/model.json", headers=conditional)
        assert (status, body, again["etag"]) == (304, b"", headers["etag"]), conditional
    model = run_dir / "artifacts" / "tfjs-a" / "model.json"
    model.write_bytes(b'{"format": "layers-model", "changed": true}')
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))
    status, changed, body = request(server, "/models/tfjs-a/model.json", headers={"If-None-Match": headers["etag"]})
    assert status == 200 and b"changed" in body and changed["etag"] != headers["etag"]


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
        # Every connection gets its turn and is closed after 0.5 s of silence: 3 batches of 64, ~1.5 s.
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


def write_report(run: Path) -> None:
    evaluations = [
        {"name": "tfjs-a", "runtime": "tfjs-browser-wasm", "passed": False, "accuracy": 91.5},
        {"name": "tfjs-a", "runtime": "tfjs-node-wasm", "passed": True, "accuracy": 98.9},
        {"name": "tfjs-b", "runtime": "tfjs-node-wasm", "passed": True, "accuracy": 97.25},
    ]
    (run / "report.json").write_text(json.dumps({"passed": False, "artifacts": evaluations}))
    (run / "report.html").write_text("<!doctype html><title>report</title><p>FAILED (1)</p>")


def test_index_holds_variant_size_and_gate_verdict_and_links_the_report(run_dir):
    skip_unless(web_demo_missing())
    contract = run_dir / "artifacts" / "tfjs-b" / "contract.json"
    contract.write_text(json.dumps({**json.loads(contract.read_text()), "variant": "float16"}))
    with running(make_server(run_dir, port=0)) as url:
        _, first_headers, body = request(url, "/models/index.json")
        index = json.loads(body)
        assert index["report"] is None and request(url, "/report.html")[0] == 404
        assert index["models"][0]["gate"] == {"passed": None, "accuracy": None, "runtime": None}
    write_report(run_dir)
    with running(make_server(run_dir, port=0)) as url:
        _, index_headers, body = request(url, "/models/index.json", headers={"If-None-Match": first_headers["etag"]})
        index = json.loads(body)  # a new index is a new entity: not a 304 for the old one's tag
        status, headers, body = request(url, "/report.html")
    assert index == {
        "models": [
            {
                "name": "tfjs-a",
                "url": "models/tfjs-a/",
                "variant": "float32",
                "size_bytes": len(b'{"format": "layers-model"}') + 8,  # the contract's files
                "gate": {"passed": False, "accuracy": 91.5, "runtime": "tfjs-browser-wasm"},  # the browser's verdict
            },
            {
                "name": "tfjs-b",
                "url": "models/tfjs-b/",
                "variant": "float16",
                "size_bytes": len(b"{}"),
                "gate": {"passed": True, "accuracy": 97.25, "runtime": "tfjs-node-wasm"},  # the only one there is
            },
        ],
        "report": "report.html",
    }
    assert status == 200 and b"FAILED (1)" in body and headers["content-type"] == "text/html; charset=utf-8"
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
