"""Nested CV: the whole search runs inside each outer training fold."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from planner.automl import CVSpec, nested_cv


def test_nested_cv_scores_outer_folds_and_resumes(kim_ce, storage_url):
    X, y = kim_ce
    seen = []
    kwargs = dict(task="regression", search_space="fast", outer_cv=CVSpec(n_splits=3, n_repeats=1), n_trials=2, seed=1, storage_url=storage_url, study_name="n")
    result = nested_cv(X, y, on_outer_fold=seen.append, **kwargs)
    assert len(result.folds) == 3 and [f.index for f in seen] == [0, 1, 2]
    assert sum(f.n_test for f in result.folds) == len(y)
    assert result.mean == pytest.approx(np.mean([f.metrics["mae"] for f in result.folds]))
    assert all(f.n_train + f.n_test == len(y) and f.n_trials == 2 for f in result.folds)
    table = result.to_frame()
    assert list(table["outer_fold"]) == [0, 1, 2] and {"mae", "test_rmse", "test_r2", "inner_mae", "pipeline"} <= set(table.columns)
    assert "nested CV mae" in result.summary()
    # The inner studies are in the storage; a re-run tops them up instead of starting over.
    assert len(optuna.load_study(study_name="n-outer0", storage=storage_url).trials) == 2
    again = nested_cv(X, y, **kwargs)
    assert [f.score for f in again.folds] == pytest.approx([f.score for f in result.folds])
    assert len(optuna.load_study(study_name="n-outer0", storage=storage_url).trials) == 2


def test_nested_cv_with_explicit_grouped_outer_splits(liverpool_rt):
    from sklearn.model_selection import GroupKFold

    X = liverpool_rt[["family", "temperature"]]
    y = liverpool_rt["log_target"]
    groups = liverpool_rt["composition"]
    splits = list(GroupKFold(3, shuffle=True, random_state=0).split(X, y, groups))
    result = nested_cv(X, y, task="regression", search_space="fast", outer_cv=splits, n_trials=1, groups=groups, seed=0)
    assert len(result.folds) == 3 and all(np.isfinite(f.score) for f in result.folds)
