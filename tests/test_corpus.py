"""The corpus of user models (tests/corpus.py) through a real `edgekit export --model --data`: every artifact
gated in LiteRT, Node and Chromium; TF.js artifacts must load in JavaScript (a layers model, or a graph model)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from corpus import CORPUS, DATASETS, RUNTIME_COLUMNS, TABLE_HEAD, export_entry, table_row, tfjs_types, write_dataset
from support import skip_unless

from toolkit.runtimes import RUNTIMES

pytestmark = [pytest.mark.corpus, pytest.mark.node, pytest.mark.browser]
TABLE = Path(__file__).resolve().parent.parent / "test-artifacts" / "corpus.md"


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    for name in RUNTIME_COLUMNS:
        skip_unless(RUNTIMES[name].unavailable())
    out = tmp_path_factory.mktemp("corpus")
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text("\n".join(TABLE_HEAD) + "\n")
    return out, {key: write_dataset(key, out) for key in DATASETS}


@pytest.mark.parametrize("entry", CORPUS, ids=[e.name for e in CORPUS])
def test_user_model_exports_and_passes_in_every_runtime(corpus_dir, entry):
    out, data = corpus_dir
    done, report = export_entry(entry, out, data[entry.data], [sys.executable, "-m", "toolkit"])
    with TABLE.open("a") as table:  # the README's table, as measured by this run
        table.write(table_row(entry, report or {"artifacts": []}, tfjs_types(out / f"run-{entry.name}")) + "\n")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "PASSED"
    artifacts = {a["name"] for a in report["artifacts"]}
    assert {"tflite-float32", "tflite-int8-ptq", "tfjs-float32", "tfjs-uint8"} <= artifacts
    for name in artifacts:
        runtimes = {a["runtime"] for a in report["artifacts"] if a["name"] == name and a["passed"]}
        wanted = {"litert"} if name.startswith("tflite") else {"tfjs-node-wasm", "tfjs-browser-wasm"}
        if not name.startswith("saved_model"):
            assert wanted <= runtimes, f"{name}: passed only in {sorted(runtimes)}"
    assert report["not_verified"] == []
    types = tfjs_types(out / f"run-{entry.name}")
    assert types <= {"layers-model", "graph-model"} and types
