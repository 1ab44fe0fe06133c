"""The JS port of the digit preprocessing gives the Python reference's tensors on the shared golden vectors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from toolkit.golden import preprocess_cases, target_cases, write_golden_vectors

WEB_DEMO = Path(__file__).resolve().parent.parent / "web_demo"


@pytest.mark.node
def test_js_preprocessing_matches_python_golden_vectors(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js not found on PATH")
    golden = write_golden_vectors(tmp_path)
    done = subprocess.run(
        [node, "--test", "test/preprocess.test.mjs"],
        cwd=WEB_DEMO,
        env={**os.environ, "EDGEKIT_GOLDEN": str(golden)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    counts = {
        key: int(value) for key, value in re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", done.stdout, re.M)
    }
    # Two checks per MNIST case (uint8 and [0, 1] input), one per other field (grey picture and model values), and
    # the one that the file was given: all ran, none skipped.
    expected = 2 * len(preprocess_cases()) + len(target_cases()) + 1
    assert counts == {"pass": expected, "fail": 0, "skipped": 0, "cancelled": 0}, done.stdout


@pytest.mark.node
def test_js_preprocessing_test_fails_without_golden_vectors():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js not found on PATH")
    env = {k: v for k, v in os.environ.items() if k != "EDGEKIT_GOLDEN"}
    done = subprocess.run(
        [node, "--test", "test/preprocess.test.mjs"], cwd=WEB_DEMO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "EDGEKIT_GOLDEN" in done.stdout
