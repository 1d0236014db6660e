"""The benchmark harness stays runnable (FLAML itself is only in the benchmark environment)."""

from __future__ import annotations

import importlib.util
import json

import pytest


def _harness(repo_root):
    spec = importlib.util.spec_from_file_location("matbench_protocol", repo_root / "benchmarks" / "automl" / "matbench_protocol.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_harness_runs_the_protocol_and_writes_results(repo_root, tmp_path, datasets_dir):
    harness = _harness(repo_root)
    budget = 10.0
    assert harness.main(["--preset", "lce", "--budget-s", str(budget), "--methods", "planner,rf,lgbm", "--space", "fast", "--folds", "0,3", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "lce.json").read_text())
    assert record["outer"] == "KFold(5, shuffle=True, random_state=18012019)" and [f["fold"] for f in record["folds"]] == [0, 3]
    assert sum(f["n_test"] for f in record["folds"]) == 60 and record["n_rows"] == 150
    assert {"planner_mae", "rf_mae", "planner_rmse", "lgbm_mae", "mae_ratio_planner_over_lgbm"} <= set(record["summary"])
    for fold in record["folds"]:
        assert fold["planner"]["seconds"] <= 1.10 * budget and fold["planner"]["n_complete"] >= 1
        assert set(fold["planner"]["baselines_cv"]) == {"mean", "random_forest"}
    results = (tmp_path / "RESULTS.md").read_text()
    assert "## lce (regression, n=150)" in results and "preliminary" in results and "wall time (search + refit) / budget per fold" in results
    assert "MAE ratio planner / default LightGBM" in results


def test_default_lightgbm_anchor_and_a_folds_note(repo_root, tmp_path, datasets_dir):
    harness = _harness(repo_root)
    note = "the planned protocol for this table"
    assert harness.main(["--preset", "lce", "--methods", "lgbm", "--folds", "1", "--folds-note", note, "--name", "lce_lgbm", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "lce_lgbm.json").read_text())
    fold = record["folds"][0]
    assert fold["lgbm"]["mae"] > 0 and fold["lgbm"]["seconds"] >= 0 and record["folds_note"] == note
    results = (tmp_path / "RESULTS.md").read_text()
    assert f"outer folds [1] of 5: {note}" in results and "preliminary" not in results


def test_grouped_preset_uses_grouped_outer_folds(repo_root, datasets_dir):
    harness = _harness(repo_root)
    X, y, groups, roles = harness.load_table(harness.PRESETS["liverpool_rt"])
    assert roles["composition"] == "composition" and len(y) == 465
    for train, test in harness.outer_splits(X, groups):
        assert not set(groups.iloc[train]) & set(groups.iloc[test])
