"""evaluate_pipeline: a pure, picklable trial - fold scores, failures as results, pruning."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from planner.automl import CVSpec, evaluate_pipeline, make_splits
from planner.automl._data import prepare_data

RIDGE = {"imputer": "median", "scaler": "standard", "selector": "none", "fusion": "single", "model": "ridge", "model.ridge.alpha": 1.0}


def test_complete_trial_has_every_fold_and_metric(kim_ce):
    X, y = kim_ce
    result = evaluate_pipeline(RIDGE, X, y, task="regression", cv_spec=CVSpec(n_splits=3, n_repeats=2), seed=0)
    assert result.status == "complete" and result.failure_reason is None
    assert len(result.fold_scores) == result.n_folds == 6
    assert result.value == pytest.approx(np.mean(result.fold_scores))
    assert set(result.fold_metrics) == {"mae", "rmse", "r2"}
    assert 0.1 < result.value < 0.4  # LCE spans 0.7-2.3
    attrs = result.user_attrs()
    assert attrs["pipeline"] == "median-impute > standard-scale > ridge" and attrs["fusion_kind"] == "single"
    assert pickle.loads(pickle.dumps(result)) == result


def test_same_seed_same_scores_and_inputs_are_picklable(kim_ce):
    X, y = kim_ce
    params = {**RIDGE, "fusion": "bagging", "bagging.base": "ridge", "bagging.base.ridge.alpha": 1.0, "bagging.n_estimators": 5}
    args = (params, X, y)
    kwargs = dict(task="regression", cv_spec=CVSpec(n_splits=3, n_repeats=1), seed=4)
    pickle.loads(pickle.dumps((args, kwargs)))
    assert evaluate_pipeline(*args, **kwargs).fold_scores == evaluate_pipeline(*args, **kwargs).fold_scores


def test_a_pipeline_that_errors_is_a_failed_result_with_the_reason(kim_ce):
    X, y = kim_ce
    params = {**RIDGE, "model": "knn", "model.knn.n_neighbors": 500}
    result = evaluate_pipeline(params, X, y, task="regression", cv_spec=CVSpec(n_splits=3, n_repeats=1))
    assert result.status == "failed" and result.value is None
    assert result.failure_reason.startswith("ValueError: Expected n_neighbors <= n_samples") and "(fold 0)" in result.failure_reason


def test_on_fold_can_prune(kim_ce):
    X, y = kim_ce
    seen = []

    def stop_after_two(step, running_mean):
        seen.append((step, running_mean))
        return step == 1

    result = evaluate_pipeline(RIDGE, X, y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=1), on_fold=stop_after_two)
    assert result.status == "pruned" and len(result.fold_scores) == 2 and [s for s, _ in seen] == [0, 1]
    assert seen[1][1] == pytest.approx(np.mean(result.fold_scores))


def test_classification_with_missing_values_and_categoricals(llzo_features, llzo):
    data = prepare_data(llzo_features, llzo["good_cond"], task="classification")
    assert data.has_missing and data.has_categorical
    params = {
        "imputer": "knn", "imputer.knn.n_neighbors": 5, "encoder": "onehot", "scaler": "standard",
        "selector": "kbest_f", "selector.kbest_f.fraction": 0.5, "fusion": "stacking",
        "stacking.bases": "logistic+rf", "stacking.base.rf.n_estimators": 30, "stacking.meta": "logistic", "stacking.cv": 3,
    }
    splits, _ = make_splits(data.y, task="classification", cv_spec=CVSpec(n_splits=3, n_repeats=1))
    result = evaluate_pipeline(params, data.X, data.y, task="classification", cv_spec=splits, column_roles=data.column_roles, metric="roc_auc")
    assert result.status == "complete", result.failure_reason
    assert 0.6 < result.value <= 1.0
    assert set(result.fold_metrics) == {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert result.user_attrs()["pipeline"] == "knn-impute(k=5) > onehot > standard-scale > f-select(50%) > stack[logistic, rf] > logistic"


def test_no_leakage_feature_selection_is_refitted_inside_each_fold():
    """Selecting features on all rows before CV makes noise look predictive; the engine must not."""
    import pandas as pd
    from sklearn.feature_selection import SelectKBest, f_regression
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_score

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 1000)), columns=[f"f{i}" for i in range(1000)])
    y = rng.normal(size=60)
    params = {**RIDGE, "selector": "kbest_f", "selector.kbest_f.fraction": 0.01}
    honest = evaluate_pipeline(params, X, y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=1), metric="r2")
    leaky_X = SelectKBest(f_regression, k=10).fit_transform(X, y)
    leaky = cross_val_score(Ridge(alpha=1.0), leaky_X, y, cv=KFold(5, shuffle=True, random_state=0), scoring="r2").mean()
    assert leaky > 0.3, "the leaky protocol should look good on noise (sanity check)"
    assert honest.value < 0.0


def test_composition_column_is_featurized_inside_the_pipeline(liverpool_rt):
    roles = {"composition": "composition", "family": "categorical", "temperature": "numeric"}
    data = prepare_data(liverpool_rt[list(roles)], liverpool_rt["log_target"], task="regression", column_roles=roles, groups=liverpool_rt["composition"])
    assert data.column_roles == roles and not data.notes
    params = {"imputer": "median", "scaler": "standard", "encoder": "onehot", "fusion": "single", "model": "ridge", "model.ridge.alpha": 10.0}
    splits, _ = make_splits(data.y, task="regression", cv_spec=CVSpec(n_splits=3, n_repeats=1), groups=data.groups)
    with_comp = evaluate_pipeline(params, data.X, data.y, task="regression", cv_spec=splits, column_roles=roles)
    without = evaluate_pipeline(params, data.X, data.y, task="regression", cv_spec=splits, column_roles={k: v for k, v in roles.items() if k != "composition"})
    assert with_comp.status == without.status == "complete"
    assert with_comp.value < without.value, "Magpie descriptors of the composition must carry signal"


def test_unknown_roles_and_text_in_numeric_columns(kim_ce):
    from planner.exceptions import DataValidationError, SpecError

    X, y = kim_ce
    with pytest.raises(SpecError, match="column 'FC' has unknown role 'numerical'"):
        prepare_data(X, y, task="regression", column_roles={"FC": "numerical"})
    with pytest.raises(DataValidationError, match="numeric column 'FC' holds non-numeric values"):
        prepare_data(X.assign(FC=["x"] * len(X)), y, task="regression", column_roles={"FC": "numeric"})
    with pytest.raises(DataValidationError, match="target has 1 missing"):
        prepare_data(X, y.mask(y.index == 0), task="regression")


def test_time_limit_stops_after_the_running_fold(kim_ce):
    X, y = kim_ce
    result = evaluate_pipeline(RIDGE, X, y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=1), time_limit_s=0.0)
    assert result.status == "pruned" and len(result.fold_scores) == 1
    assert result.failure_reason == "TimeBudget: the search's time budget ran out after fold 0"


def test_a_trial_projected_past_its_cap_costs_one_fold(kim_ce):
    X, y = kim_ce
    forest = {"imputer": "median", "fusion": "single", "model": "rf", "model.rf.n_estimators": 60}
    cv = CVSpec(n_splits=5, n_repeats=2)
    one = evaluate_pipeline(forest, X, y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=1))
    per_fold = one.fit_time_s / 5
    # a cap below the projected cost of 10 folds stops after the first; a generous one does not
    capped = evaluate_pipeline(forest, X, y, task="regression", cv_spec=cv, max_trial_s=per_fold * 3)
    assert capped.status == "pruned" and len(capped.fold_scores) == 1
    assert capped.failure_reason.startswith("TimeBudget: 10 folds would take about") and "(stopped after fold 0)" in capped.failure_reason
    assert evaluate_pipeline(forest, X, y, task="regression", cv_spec=cv, max_trial_s=per_fold * 1000).status == "complete"
