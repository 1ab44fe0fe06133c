"""The corpus of user models (tests/corpus.py) through a real `edgekit export --model --data`: every artifact
gated in LiteRT, Node and Chromium. Every artifact must load and run in each (TF.js as a layers or a graph model)
and the float ones must pass; a quantized one may fail, on its numbers only: the gate reports real losses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from corpus import DATASETS, RUNTIME_COLUMNS, TABLE_HEAD, chosen, export_entry, table_row, write_dataset
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


@pytest.mark.parametrize("entry", chosen(), ids=[e.name for e in chosen()])
def test_user_model_exports_and_passes_in_every_runtime(corpus_dir, entry):
    out, data = corpus_dir
    done, report = export_entry(entry, out, data[entry.data], [sys.executable, "-m", "toolkit"])
    with TABLE.open("a") as table:  # the table in docs/own-model.md, as measured by this run
        table.write(table_row(entry, report or {"artifacts": []}) + "\n")
    # 0: every artifact passed; 1: the gate found a quantized artifact that lost accuracy (which it must report,
    # not hide). Anything else is a crash or a refusal.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert report["not_verified"] == []
    results = report["artifacts"]
    names = {a["name"] for a in results}
    assert {"tflite-float32", "tflite-int8-ptq", "tfjs-float32", "tfjs-uint8"} <= names
    for name in names:
        ran = {a["runtime"]: a for a in results if a["name"] == name}
        wanted = {"litert"} if name.startswith("tflite") else {"tfjs-node-wasm", "tfjs-chromium-wasm"}
        if name.startswith("saved_model"):
            wanted = {"tensorflow"}
        assert wanted <= set(ran), f"{name}: evaluated only in {sorted(ran)}"
        for runtime in wanted:  # loaded and ran: a verdict on numbers, never a load or runtime error
            assert not ran[runtime]["error"], f"{name} [{runtime}]: {ran[runtime]['error']}"
        if "float32" in name or "float16" in name or name.startswith("saved_model"):
            assert all(ran[r]["passed"] for r in wanted), f"{name}: a float artifact failed: {ran}"
        if name.startswith("tfjs"):  # the same wasm kernels in Node and in the browser: the same verdict
            assert ran["tfjs-node-wasm"]["passed"] == ran["tfjs-chromium-wasm"]["passed"]
    assert (done.returncode == 0) == all(a["passed"] for a in results)
