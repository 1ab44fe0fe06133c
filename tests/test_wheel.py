"""The built wheel in a fresh virtualenv: `edgekit serve` and the Node runtime work from the installed package (npm
packages installed on first use into a user cache), and a same-named foreign `exporters` is refused at start."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import TINY_ARTIFACTS, build_tiny_run, passed_report, sample_images

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.wheel


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> tuple[Path, dict]:
    """A fresh virtualenv holding only the built wheel and its locked dependencies (uv's cache makes this quick)."""
    for tool in ("uv", "node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found on PATH")
    base = tmp_path_factory.mktemp("wheel")
    run(["uv", "build", "--wheel", "-o", base / "dist"], cwd=REPO, timeout=600)
    (wheel,) = (base / "dist").glob("edgekit-*.whl")
    constraints = base / "constraints.txt"
    exported = run(["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"], cwd=REPO).stdout
    constraints.write_text(exported)
    run(["uv", "venv", base / "venv", "--python", sys.executable], timeout=300)
    python = base / "venv" / "bin" / "python"
    run(["uv", "pip", "install", "--python", python, "-c", constraints, wheel], timeout=1800)
    # A user's cache, and no way back to the checkout: the run happens outside it, in a clean environment.
    env = {**os.environ, "XDG_CACHE_HOME": str(base / "cache"), "PYTHONPATH": "", "VIRTUAL_ENV": str(base / "venv")}
    env["PATH"] = f"{base / 'venv' / 'bin'}{os.pathsep}{env['PATH']}"
    return base, env


def get(url: str, path: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_installed_package_locates_its_own_web_files(venv):
    base, env = venv
    code = "from toolkit.web import assets as w; print(w.in_checkout(), w.PACKAGED, w.cached_root())"
    in_checkout, packaged, cached = run(["python", "-c", code], env=env, cwd=base).stdout.split()
    assert in_checkout == "False" and Path(packaged).is_relative_to(base / "venv")
    assert Path(cached).parent == base / "cache" / "edgekit"


def test_serve_from_the_wheel_installs_npm_packages_on_first_use(venv, tmp_path):
    base, env = venv
    tiny_run, _ = build_tiny_run(tmp_path)
    passed_report(tiny_run)  # serve offers only what passed; what is tested here is the installed package
    process = subprocess.Popen(
        ["edgekit", "serve", str(tiny_run), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=base,
    )
    try:
        first = process.stdout.readline()  # after npm ci, which can take a minute
        assert "Serving the edgekit demo" in first, process.stderr.read()[-3000:] if process.poll() else first
        url = first.split(" at ")[1].split(" ")[0]
        status, page = get(url, "/")
        assert status == 200 and page == (REPO / "web_demo" / "site" / "index.html").read_bytes()
        status, bundle = get(url, "/tfjs/tf.es2017.min.js")
        assert status == 200 and len(bundle) > 500_000
        assert get(url, "/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm")[1][:4] == b"\0asm"
        # the page's lite TF.js, built in the checkout (npm ci's prepare) and shipped in the wheel
        assert get(url, "/tfjs-lite/tf-lite.js") == (200, (REPO / "web_demo" / "dist" / "tf-lite.js").read_bytes())
        index = json.loads(get(url, "/models/index.json")[1])
        assert sorted(m["name"] for m in index["models"]) == sorted(TINY_ARTIFACTS)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "Installing the web demo's TF.js packages" in stderr
    entries = sorted(p.name for p in (base / "cache" / "edgekit").iterdir())
    assert len(entries) == 1 and entries[0].startswith("web-") and ".partial" not in entries[0], entries


def test_node_runtime_from_the_wheel_matches_the_checkout(venv, tmp_path):
    from exporters.base import read_contract
    from toolkit.runtimes import tfjs_node

    if tfjs_node.unavailable():
        pytest.skip(tfjs_node.unavailable())
    base, env = venv
    tiny_run, _ = build_tiny_run(tmp_path)
    artifact = tiny_run / "artifacts" / "tfjs-float32"
    images = sample_images(16, seed=5)
    np.save(tmp_path / "images.npy", images)
    code = (
        "import sys, numpy as np; from pathlib import Path; from exporters.base import read_contract; "
        "from toolkit.runtimes import tfjs_node; d = Path(sys.argv[1]); p = tfjs_node.load(d, read_contract(d)); "
        "np.save(sys.argv[3], p.predict(np.load(sys.argv[2]))); print(tfjs_node.__file__)"
    )
    done = run(
        ["python", "-c", code, artifact, tmp_path / "images.npy", tmp_path / "out.npy"], env=env, cwd=base, timeout=600
    )
    assert Path(done.stdout.strip()).is_relative_to(base / "venv")  # the installed package ran, not the checkout
    expected = tfjs_node.load(artifact, read_contract(artifact)).predict(images)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


def test_user_model_exports_and_passes_from_the_wheel(venv, tmp_path):
    """A user's depthwise/separable 28x28 model through the installed `edgekit export`: LiteRT, Node and Chromium
    from the package data and the user's npm cache, nothing from the checkout (the whole corpus: tests/corpus.py
    --edgekit, README)."""
    from corpus import CORPUS, export_entry, write_dataset

    from toolkit.runtimes import RUNTIMES

    for runtime in ("tfjs-node-wasm", "tfjs-chromium-wasm"):  # the tools themselves (node, chromium) are here
        if RUNTIMES[runtime].unavailable():
            pytest.skip(RUNTIMES[runtime].unavailable())
    base, env = venv
    entry = next(e for e in CORPUS if e.name == "dw-separable-28")
    done, report = export_entry(entry, tmp_path, write_dataset(entry.data, tmp_path), ["edgekit"], env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert report["skipped"] == [], report["skipped"]  # every runtime ran from the installed package
    passed = {(a["name"], a["runtime"]) for a in report["artifacts"] if a["passed"]}
    for artifact in ("tfjs-float32", "tfjs-float16", "tfjs-uint8"):
        assert {(artifact, "tfjs-node-wasm"), (artifact, "tfjs-chromium-wasm")} <= passed
    assert ("tflite-int8-ptq", "litert") in passed


def test_a_foreign_exporters_distribution_is_refused_in_one_line(venv):
    """PyPI's `exporters` 0.7.0 (Scrapinghub) installs a top-level `exporters` package over ours."""
    base, env = venv
    python = base / "venv" / "bin" / "python"
    run(["uv", "pip", "install", "--python", python, "--no-deps", "exporters==0.7.0"], timeout=600)
    try:
        done = subprocess.run(["edgekit", "--version"], capture_output=True, text=True, env=env, cwd=base)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith("error: the distribution `exporters` 0.7.0 is installed beside edgekit")
        assert len(done.stderr.strip().splitlines()) == 1
    finally:
        # Uninstalling it deletes the files it overwrote, ours included: edgekit must say so too, not crash.
        run(["uv", "pip", "uninstall", "--python", python, "exporters"])
    done = subprocess.run(["edgekit", "--version"], capture_output=True, text=True, env=env, cwd=base)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "exporters/__init__.py" in done.stderr and "reinstall edgekit" in done.stderr
