"""The layers: no import cycles at run time, and no layer imports one above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "curbench"
# Lower layers first; a module may import its own layer or any layer below it.
LAYERS = (
    ("curbench.errors", "curbench.choices", "curbench.streams", "curbench.atomic", "curbench.cache", "curbench.device", "curbench.progress",
     "curbench.validation", "curbench.stats", "curbench.distributed", "curbench.knn", "curbench.ann"),
    ("curbench.plugins", "curbench.hookspecs", "curbench.builtins", "curbench.config"),
    ("curbench.datasets", "curbench.embedders", "curbench.scorers", "curbench.generators", "curbench.metrics",
     "curbench.visualize"),
    ("curbench.bench",),
    ("curbench.boards",),
    ("curbench.cli", "curbench.cli_suites", "curbench.__main__"),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _runtime_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """curbench modules imported by ``path`` outside ``if TYPE_CHECKING:`` blocks (lazy imports included)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
               for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("curbench"):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name for name in names if name in modules} or ({node.module} & modules.keys())
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names} & modules.keys()
    return found


def _layer(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _runtime_imports(path, modules) - {name} for name, path in modules.items() if name != "curbench"}


def test_no_import_cycles(graph):
    visiting, done, cycles = [], set(), []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append(visiting[visiting.index(module):] + [module])
            return
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            if target != "curbench":
                visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert cycles == []


def test_no_layer_imports_a_layer_above_it(graph):
    upward = [f"{module} -> {target}" for module, targets in graph.items() for target in targets
              if target != "curbench" and _layer(target) > _layer(module)]
    assert upward == []


def test_the_boards_do_not_import_the_runner(graph):
    assert not any("curbench.bench.runner" in graph[m] for m in graph if m.startswith("curbench.boards"))
