"""`edgekit serve`: read-only, GET/HEAD only, right MIME types, and nothing outside the served folders reachable."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import skip_unless
from typer.testing import CliRunner

import toolkit.cli.serve  # noqa: F401  (registers the command on the app)
from exporters.base import Format, TensorSpec, Variant, finish_artifact
from toolkit.cli.app import app
from toolkit.errors import InputError
from toolkit.run import Run
from toolkit.serve import make_server, running, tfjs_models, web_demo_missing

pytestmark = pytest.mark.unit

SECRET = "do-not-serve-this"


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
    run = Run.create(tmp_path / "run").path
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


def request(url: str, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    """Send `path` exactly as written (no client-side normalisation of `..` or percent escapes)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
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
    code = "import toolkit.cli.serve; from toolkit.cli.app import app; app()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", str(run_dir), "--port", "0"],
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
