"""Locating the web demo's files: the checkout's web_demo/, or the package data with npm packages in a user cache.

The first-use install is exercised here with a stand-in `npm` script (a real `npm ci` needs the registry and takes a
minute; tests/test_wheel.py runs the real one from an installed wheel): what is tested is our atomicity around it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.errors import InputError
from toolkit.web import assets as web_assets

REPO = Path(__file__).resolve().parent.parent
FAKE_NPM = f"""#!/bin/sh
# Stand-in for `npm ci`: announce itself, optionally hang (to be killed), then lay out the packages edgekit needs.
touch "$EDGEKIT_TEST_NPM_STARTED"
[ -n "$EDGEKIT_TEST_NPM_HANG" ] && sleep 60
for p in {" ".join(web_assets.PACKAGES)}; do
  mkdir -p node_modules/$p/dist && echo '{{}}' > node_modules/$p/package.json
done
"""


@pytest.fixture
def installed(tmp_path, monkeypatch) -> Path:
    """An 'installed package' layout: package data in tmp, no checkout, a private cache and a stand-in npm."""
    packaged = tmp_path / "site-packages" / "toolkit" / "_web"
    for name in ("site", "node", "dist"):
        (packaged / name).mkdir(parents=True)
    (packaged / web_assets.LITE_BUNDLE).write_text("var tf;")
    (packaged / "site" / "index.html").write_text("<!doctype html>")
    (packaged / "node" / "evaluate.mjs").write_text("// runner")
    (packaged / "package.json").write_text("{}")
    (packaged / "package-lock.json").write_text('{"lockfileVersion": 3}')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM)
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setattr(web_assets, "PACKAGED", packaged)
    monkeypatch.setattr(web_assets, "CHECKOUT", tmp_path / "no-checkout")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EDGEKIT_TEST_NPM_STARTED", str(tmp_path / "npm-started"))
    return packaged


@pytest.mark.unit
def test_a_checkout_uses_web_demo_as_it_is():
    assert web_assets.in_checkout()
    if web_assets.missing():
        pytest.skip(web_assets.missing())
    assert web_assets.locate().root == REPO / "web_demo"


@pytest.mark.unit
def test_first_use_installs_into_the_cache_once_with_a_progress_message(installed, tmp_path):
    lines: list[str] = []
    assets = web_assets.locate(progress=lines.append)
    assert assets.root == tmp_path / "cache" / "edgekit" / f"web-{web_assets.shipped_hash()}"
    assert assets.runner.read_text() == "// runner" and (assets.site / "index.html").is_file()
    # the page's built TF.js travels in the wheel (npm ci --omit=dev has no bundler) and is served beside the site
    assert assets.mounts()[web_assets.LITE_PREFIX].joinpath("tf-lite.js").read_text() == "var tf;"
    assert lines[0].startswith("Installing the web demo's TF.js packages") and str(assets.root) in lines[0]
    # the size before npm starts (a first use writes hundreds of MB), what it came to after
    assert f"about {web_assets.NPM_INSTALL_MB} MB" in lines[0] and re.fullmatch(
        r"Installed \d+ MB in \d+ s\.", lines[-1]
    )
    (tmp_path / "npm-started").unlink()
    assert web_assets.locate(progress=lines.append) == assets and not (tmp_path / "npm-started").exists()


@pytest.mark.unit
def test_other_shipped_files_get_a_cache_of_their_own(installed):
    before = web_assets.shipped_hash()
    (installed / "node" / "evaluate.mjs").write_text("// runner v2")
    assert web_assets.shipped_hash() != before


@pytest.mark.unit
def test_a_killed_install_leaves_nothing_that_looks_complete(installed, tmp_path):
    code = (
        "import sys; from pathlib import Path; from toolkit.web import assets as w; "
        "w.PACKAGED = Path(sys.argv[1]); w.CHECKOUT = Path(sys.argv[2]); w.locate()"
    )
    env = {**os.environ, "EDGEKIT_TEST_NPM_HANG": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(installed), str(tmp_path / "no-checkout")],
        env=env,
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "npm-started").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the Python process and its npm, mid-install
    process.wait()
    root = web_assets.cached_root()
    assert not root.exists()
    assert [p.name.startswith(f"{root.name}.partial-") for p in root.parent.iterdir()] == [True]
    assert web_assets.missing() is None  # so the next use installs again, and succeeds
    (partial,) = root.parent.iterdir()
    assert web_assets.locate(progress=lambda line: None).root == root and (root / "node_modules").is_dir()
    assert partial.exists()  # young enough to be another process's live install: left alone
    os.utime(partial, (0, 0))
    web_assets.install(root.parent / "web-other", progress=lambda line: None)
    assert sorted(p.name for p in root.parent.iterdir()) == sorted([root.name, "web-other"])  # the dead one went


@pytest.mark.unit
def test_a_failing_npm_is_one_line_and_leaves_no_cache(installed, tmp_path):
    failing = "#!/bin/sh\necho 'npm ERR! 404 Not Found - GET @tensorflow/tfjs' >&2\nexit 1\n"
    (tmp_path / "bin" / "npm").write_text(failing)
    with pytest.raises(InputError, match=r"^npm ci failed for the web demo: npm ERR! 404") as caught:
        web_assets.locate(progress=lambda line: None)
    assert "\n" not in str(caught.value)
    assert list((tmp_path / "cache" / "edgekit").iterdir()) == []


@pytest.mark.unit
def test_without_npm_the_reason_says_to_install_node(installed, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert web_assets.missing().startswith("npm not found on PATH")


@pytest.mark.unit
def test_a_checkout_without_the_built_tfjs_says_how_to_build_it(tmp_path, monkeypatch):
    (tmp_path / "site").mkdir()
    (tmp_path / "package-lock.json").write_text("{}")
    for package in web_assets.PACKAGES:
        (tmp_path / "node_modules" / package).mkdir(parents=True)
        (tmp_path / "node_modules" / package / "package.json").write_text("{}")
    monkeypatch.setattr(web_assets, "CHECKOUT", tmp_path)
    assert web_assets.missing() == f"{tmp_path / 'dist' / 'tf-lite.js'} missing: run `npm run build --prefix web_demo`"
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "tf-lite.js").write_text("var tf;")
    assert web_assets.missing() is None
