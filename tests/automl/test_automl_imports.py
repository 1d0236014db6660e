"""The engine stays light to import: heavy libraries load only when a trial needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {"optuna", "lightgbm", "xgboost", "sklearn", "ray", "torch", "pymatgen", "matminer"}


def loaded_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import planner.automl", id="package"),
        pytest.param("from planner.automl import load_search_space; load_search_space('default')", id="load-space"),
    ],
)
def test_engine_import_is_light(code):
    heavy = loaded_after(code) & HEAVY
    assert not heavy, f"{code!r} imported {sorted(heavy)}"


def test_a_single_model_trial_does_not_load_boosting_libraries(kim_ce):
    code = (
        "import pandas as pd\nfrom planner.automl import evaluate_pipeline\n"
        "X = pd.DataFrame({'a': range(20), 'b': [i % 3 for i in range(20)]}); y = [i * 0.5 for i in range(20)]\n"
        "r = evaluate_pipeline({'fusion': 'single', 'model': 'ridge'}, X, y, task='regression')\nassert r.status == 'complete'"
    )
    assert not loaded_after(code) & {"lightgbm", "xgboost", "optuna", "ray"}


def test_the_engine_has_no_import_circle(repo_root):
    """Module-level and function-level imports between planner/automl modules form no cycle."""
    import ast

    root = repo_root / "planner" / "automl"
    modules = {p.stem: p for p in root.glob("_*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planner.automl._"):
                deps.add(node.module.split(".")[2])
        graph[name] = deps & set(modules)
    cycles = []

    def visit(node, stack):
        for dep in graph[node]:
            if dep in stack:
                cycles.append(" -> ".join([*stack[stack.index(dep):], dep]))
            elif len(stack) < len(graph):
                visit(dep, [*stack, dep])

    for name in graph:
        visit(name, [name])
    assert not cycles, sorted(set(cycles))[:5]
    assert {"_build", "_data", "_ensemble", "_evaluate", "_pruning", "_search"} <= set(graph)
