"""`toolkit` and `exporters` are generic names: edgekit refuses to start when either is not its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.import_names import conflict

EDGEKIT = Path(sys.executable).parent / "edgekit"


def edgekit(env_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(env_path)}
    return subprocess.run([EDGEKIT, "--version"], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.unit
def test_this_environment_is_clean():
    assert conflict() is None


@pytest.mark.unit
def test_a_same_named_distribution_is_refused_in_one_line(tmp_path):
    """What `pip install exporters` (Scrapinghub's 0.7.0) leaves: its metadata and its own `exporters` package."""
    info = tmp_path / "exporters-0.7.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: exporters\nVersion: 0.7.0\n")
    done = edgekit(tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: the distribution `exporters` 0.7.0 is installed beside edgekit")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.unit
def test_a_shadowing_package_earlier_on_the_path_is_refused(tmp_path):
    (tmp_path / "exporters").mkdir()
    (tmp_path / "exporters" / "__init__.py").write_text("raise SystemExit('the wrong exporters ran')")
    done = edgekit(tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"error: `exporters` is imported from {tmp_path}, not from edgekit's installation")
