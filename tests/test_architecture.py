"""The layout's rules, checked on the source: no import circles, no oversized modules, a CLI on the facade.

These walk ``planner/``'s syntax trees (nothing is imported), so they are fast and they fail
with the offending modules named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "planner"
MAX_LINES = 600
#: The command line and the demo call the facade only; these are theirs to import privately.
CLI_MODULES = ("planner.cli", "planner.demo")


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _absolute(name: str | None, module: str, is_package: bool, level: int) -> str:
    if not level:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _known(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Every planner module ``module`` imports, at the top or inside a function (not under TYPE_CHECKING)."""
    path, is_package = MODULES[module]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, module, is_package, node.level)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = _known(name)
            if target and target != module:
                found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def import_cycles() -> list[list[str]]:
    """Strongly connected components (more than one module) of the import graph (Tarjan)."""
    graph = {m: imports_of(m) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    return cycles


def test_the_walker_finds_a_planted_cycle(tmp_path, monkeypatch):
    """The circle check itself can fail: two modules that import each other are reported."""
    pkg = tmp_path / "planner"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from planner import b\n")
    (pkg / "b.py").write_text("from . import a\n")
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    monkeypatch.setitem(globals(), "MODULES", _modules())
    assert import_cycles() == [["planner.a", "planner.b"]]


def test_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, "import circles (split a shared leaf out, or pass records instead): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_600_lines(module):
    path, _ = MODULES[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (> {MAX_LINES}): split it along its seams"


def test_cli_and_demo_import_nothing_private():
    offenders = []
    for module in MODULES:
        if not module.startswith(CLI_MODULES):
            continue
        for target in imports_of(module):
            if target.startswith(CLI_MODULES):
                continue
            if any(part.startswith("_") for part in target.split(".")[1:]) and target != "planner._version":
                offenders.append(f"{module} imports {target}")
    assert not offenders, "the CLI and the demo call the Campaign facade only: " + "; ".join(sorted(offenders))
