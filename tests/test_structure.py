"""The shape the code relies on: floors with arrows pointing down, no import circle (imports inside functions
included), paths inside a run built by `Run` alone, short functions, and a CLI that starts without TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
# From the top floor down. A module imports from its own floor or below; docs/architecture.md draws the same.
FLOORS = (
    ("toolkit.__main__", "toolkit.cli"),
    ("toolkit.flow",),
    ("toolkit.fix", "toolkit.bench", "toolkit.serve"),
    ("toolkit.report",),
    ("toolkit.gate", "toolkit.modeling"),
    ("toolkit.config",),
    ("toolkit.runtimes",),
    ("toolkit.data", "toolkit.web"),
    ("toolkit.run", "toolkit.pixels"),
    ("toolkit", "toolkit.errors", "toolkit.import_names", "toolkit.launcher"),
    ("exporters",),
)
LONGEST_FUNCTION = 65  # lines, docstring included


def modules() -> dict[str, Path]:
    found = {}
    for package in ("toolkit", "exporters"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, at the top or inside functions (its own package face excluded)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name and not name.startswith(candidate + "."):
                targets.add(candidate)
    return targets


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def floor(name: str) -> int:
    """The index of the floor whose longest matching prefix holds the module (0 is the top)."""
    matches = [(len(p), i) for i, names in enumerate(FLOORS) for p in names if name == p or name.startswith(p + ".")]
    return max(matches)[1] if matches else -1


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_not_even_inside_functions():
    assert circles(graph()) == []


def test_a_circle_is_found_where_there_is_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_stands_on_a_floor():
    assert [name for name in modules() if floor(name) < 0] == []


def test_arrows_point_down():
    upward = sorted(
        f"{name} (floor {floor(name)}) imports {target} (floor {floor(target)})"
        for name, targets in graph().items()
        for target in targets
        if floor(target) < floor(name)
    )
    assert upward == []


def test_exporters_never_import_toolkit():
    assert [
        f"{n} -> {t}" for n, ts in graph().items() if n.startswith("exporters") for t in ts if t.startswith("toolkit")
    ] == []


def test_only_run_builds_paths_inside_a_run():
    """`run.path / ...` anywhere but in toolkit/run.py is a second, unchecked idea of the run's layout."""
    found = []
    for name, path in modules().items():
        if name == "toolkit.run":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.left, ast.Attribute):
                owner = node.left.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                if node.left.attr == "path" and owner_name.endswith("run"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_the_cli_starts_without_tensorflow():
    # `edgekit --help` and option errors must be instant: TensorFlow is imported inside the commands only.
    code = "import sys, toolkit.cli; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
