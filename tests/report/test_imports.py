"""`import planner.report` / `planner.explain` load nothing heavy; plotly, shap and optuna load on use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["plotly", "shap", "optuna", "sklearn", "torch", "pandas"]


@pytest.mark.parametrize("module", ["planner.report", "planner.explain"])
def test_import_is_light(module: str) -> None:
    code = f"import sys, json\nimport {module}\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), f"import {module} loaded {sorted(loaded & set(HEAVY))}"
