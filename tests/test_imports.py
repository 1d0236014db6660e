"""`import planner` (and the CLI's start-up) must stay light: heavy libraries load on use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "botorch", "gpytorch", "optuna", "ray", "featuretools", "shap", "pybamm", "pymatgen", "matminer", "lightgbm", "xgboost", "sklearn", "rdkit"]


def loaded_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("import planner", id="planner"),
        pytest.param("import planner.cli", id="cli"),
        pytest.param("from planner import Campaign, CampaignSpec", id="campaign"),
    ],
)
def test_heavy_libraries_are_not_imported(statement):
    heavy = loaded_after(statement) & set(HEAVY)
    assert not heavy, f"{statement!r} imported {sorted(heavy)}"


def test_import_planner_does_not_load_pandas():
    assert "pandas" not in loaded_after("import planner")
