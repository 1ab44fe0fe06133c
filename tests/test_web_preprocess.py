"""The JS port of the digit preprocessing gives the Python reference's tensors on the shared golden vectors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from toolkit.pixels.golden import preprocess_cases, target_cases, write_golden_vectors

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


@pytest.mark.unit
def test_the_javascript_takes_picture_size_normalization_and_classes_from_the_contract():
    """No MNIST number in the page, the evaluation page or the Node runner: they all come from contract.json."""
    sources = [*WEB_DEMO.glob("site/*.js"), *WEB_DEMO.glob("node/*.mjs")]
    assert len(sources) >= 8
    mnist = re.compile(r"\b784\b|\b28\s*\*\s*28\b|(?<!/)/\s*255\b|\[\s*'0'\s*,\s*'1'|length\s*[!=]==?\s*10\b")
    found = [f"{p.name}: {m.group()}" for p in sources for m in mnist.finditer(p.read_text())]
    assert found == []


@pytest.mark.node
def test_js_unit_tests_pass():
    """web_demo/test/contract.test.mjs, boot.test.mjs, model.test.mjs and picture.test.mjs: the contract reader, the
    page's choice of variant, how a batch reaches a TF.js model, and pictures for any model (crop, resize, kind)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js not found on PATH")
    files = ["test/contract.test.mjs", "test/boot.test.mjs", "test/model.test.mjs", "test/picture.test.mjs"]
    done = subprocess.run([node, "--test", *files], cwd=WEB_DEMO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    counts = dict(re.findall(r"^# (pass|fail|skipped) (\d+)$", done.stdout, re.M))
    assert int(counts["pass"]) >= 18 and counts["fail"] == "0" and counts["skipped"] == "0", done.stdout
