"""The layering the code relies on: arrows point down (cli -> flow -> steps -> runtimes -> exporters), TF loads late."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (absolute names)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(package: str) -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p
        for p in sorted((ROOT / package).rglob("*.py"))
        if "node_modules" not in p.parts
    }


def offenders(importers: dict[str, Path], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, path in importers.items()
        for target in imports_of(path)
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    )


def test_exporters_never_import_toolkit():
    assert offenders(modules("exporters"), ("toolkit",)) == []


def test_runtimes_import_no_step_and_no_cli():
    runtimes = {k: v for k, v in modules("toolkit").items() if k.startswith("toolkit.runtimes")}
    assert runtimes, "no runtime modules found"
    steps = ("toolkit.flow", "toolkit.cli", "toolkit.serve", "toolkit.parity", "toolkit.report")
    assert offenders(runtimes, steps) == []


def test_only_the_cli_imports_the_cli():
    library = {
        k: v for k, v in modules("toolkit").items() if not k.startswith("toolkit.cli") and k != "toolkit.__main__"
    }
    assert offenders(library, ("toolkit.cli",)) == []


def test_training_does_not_borrow_the_gate():
    training = {k: v for k, v in modules("toolkit").items() if k in ("toolkit.training", "toolkit.qat_model")}
    assert len(training) == 2
    assert offenders(training, ("toolkit.parity", "toolkit.report")) == []


def test_the_cli_starts_without_tensorflow():
    # `edgekit --help` and option errors must be instant: TensorFlow is imported inside the commands only.
    code = "import sys, toolkit.cli; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
