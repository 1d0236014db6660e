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
