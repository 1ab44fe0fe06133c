"""README command 1 is what a new user copies first: it must work on a distribution's python3, which refuses
`pip install` outside a virtual environment (PEP 668), and CI must run exactly it (.ci/readme-command)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parent.parent


def readme_command() -> str:
    return subprocess.run(
        ["bash", str(REPO / ".ci" / "readme-command")], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_ci_runs_the_readme_command_as_written():
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("## Install") :].split("```")[1]
    assert readme_command() == block.strip().splitlines()[0]
    ci = (REPO / ".ci" / "run").read_text()
    assert 'PATH="/usr/bin:$PATH" bash -euo pipefail -c "$(.ci/readme-command)"' in ci
    assert "git clone" in ci


def test_the_readme_command_installs_nothing_into_the_system_python():
    """Every `pip install` is a virtual environment's pip; the pipeline runs at the end."""
    command = readme_command()
    steps = [step.strip() for step in command.split("#")[0].split("&&")]
    pips = [step for step in steps if re.search(r"\bpip3?\s+install\b", step)]
    assert pips and all(re.match(r"\S*venv\S*/bin/pip3? install ", step) for step in pips), pips
    assert steps[0].startswith("python3 -m venv ") and steps[-1] == "uv run edgekit pipeline"
    assert all(not re.search(r"--break-system-packages|--user\b|sudo\b", step) for step in steps)
