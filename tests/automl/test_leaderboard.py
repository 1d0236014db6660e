"""The leaderboard ranks pipelines by mean CV score and shows spread, family and fusion."""

from __future__ import annotations

import optuna

from planner.automl import leaderboard
from planner.automl._leaderboard import LEADERBOARD_COLUMNS


def test_leaderboard_ranks_complete_trials_best_first(lce_study):
    table = leaderboard(lce_study)
    assert tuple(table.columns) == LEADERBOARD_COLUMNS
    complete = [t for t in lce_study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(table) == len(complete)
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert table["mean"].is_monotonic_increasing  # MAE: lower is better
    assert table.loc[0, "trial"] == lce_study.best_trial.number
    first = table.iloc[0]
    assert first["score"].startswith(f"{first['mean']:.4g} ± ") and first["n_folds"] == 3
    assert set(table["fusion"]) <= {"single", "homogeneous:forest", "homogeneous:bagging", "heterogeneous:stacking", "heterogeneous:voting"}
    row = table[table["trial"] == 0].iloc[0]
    assert row["pipeline"] == "median-impute > standard-scale > ridge" and row["model_family"] == "linear" and row["source"] == "default"


def test_top_and_failed_rows(lce_study):
    assert len(leaderboard(lce_study, top=2)) == 2
    full = leaderboard(lce_study, include_failed=True)
    assert full["rank"].isna().sum() == sum(t.state != optuna.trial.TrialState.COMPLETE for t in lce_study.trials)


def test_leaderboard_of_failures_only(kim_ce, storage_url, tmp_path):
    from planner.automl import run_search

    X, y = kim_ce
    space = tmp_path / "s.yaml"
    space.write_text("version: 1\nfusion:\n  single:\n    models:\n      knn:\n        n_neighbors: 500\n")
    study = run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="f", n_trials=1)
    assert leaderboard(study).empty
    failed = leaderboard(study, include_failed=True)
    assert failed.loc[0, "state"] == "fail" and "n_neighbors" in failed.loc[0, "failure_reason"]
