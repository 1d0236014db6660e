"""Refit on all data, save as joblib + JSON spec, rebuild from the spec, predict with uncertainty."""

from __future__ import annotations

import json

import numpy as np
import pytest

from planner.automl import FittedPipeline, load_fitted, predict, refit
from planner.exceptions import DataValidationError, SpecError


def test_refit_best_save_load_and_rebuild(lce_study, kim_ce, tmp_path):
    X, y = kim_ce
    fitted = refit(lce_study, X, y)
    assert fitted.spec["trial"] == lce_study.best_trial.number
    assert fitted.spec["cv"]["mean"] == pytest.approx(lce_study.best_value)
    paths = fitted.save(tmp_path / "model")
    assert paths["model"].name == "pipeline.joblib" and paths["spec"].name == "pipeline.json"
    spec = json.loads(paths["spec"].read_text())
    assert spec["type"] == "planner.automl.fitted_pipeline" and spec["version"] == 2 and spec["task"] == "regression"

    loaded = load_fitted(tmp_path / "model")
    new = X.sample(10, random_state=0)
    assert np.allclose(loaded.predict(new)["prediction"], fitted.predict(new)["prediction"])
    # The JSON spec alone rebuilds the same pipeline.
    rebuilt = FittedPipeline(estimator=None, spec=spec).rebuild().fit(X, y)
    assert np.allclose(rebuilt.predict(new), fitted.estimator.predict(new))
    assert np.allclose(predict(tmp_path / "model", new)["prediction"], fitted.predict(new)["prediction"])


@pytest.mark.parametrize(
    ("params", "has_std"),
    [
        pytest.param({"fusion": "single", "model": "gp", "scaler": "standard"}, True, id="gp"),
        pytest.param({"fusion": "single", "model": "rf", "model.rf.n_estimators": 20}, True, id="forest"),
        pytest.param({"fusion": "bagging", "bagging.base": "ridge", "bagging.n_estimators": 5, "scaler": "standard"}, True, id="bagging"),
        pytest.param({"fusion": "single", "model": "ridge"}, False, id="ridge"),
        pytest.param({"outliers": "drop_rows", "fusion": "single", "model": "et", "model.et.n_estimators": 20}, True, id="forest-after-row-filter"),
    ],
)
def test_regression_uncertainty_where_the_model_has_it(kim_ce, params, has_std):
    X, y = kim_ce
    fitted = refit({"imputer": "median", **params}, X.iloc[10:], y.iloc[10:], task="regression")
    out = fitted.predict(X.head(5))  # rows the model has not seen
    assert list(out.columns) == ["prediction", "std"] and fitted.has_uncertainty == has_std
    assert out["std"].notna().all() == has_std and (out["std"].fillna(1) > 0).all()


def test_classification_probabilities(llzo_features, llzo):
    params = {"imputer": "median", "encoder": "onehot", "scaler": "standard", "fusion": "single", "model": "logistic"}
    fitted = refit(params, llzo_features, llzo["good_cond"], task="classification")
    out = fitted.predict(llzo_features.head(4))
    assert list(out.columns) == ["prediction", "proba_0", "proba_1"]
    assert np.allclose(out[["proba_0", "proba_1"]].sum(axis=1), 1.0) and fitted.spec["classes"] == [0, 1]


def test_refit_errors(lce_study, kim_ce, tmp_path):
    X, y = kim_ce
    with pytest.raises(SpecError, match="has no trial 99"):
        refit(lce_study, X, y, trial=99)
    with pytest.raises(SpecError, match="needs task="):
        refit({"fusion": "single", "model": "ridge"}, X, y)
    with pytest.raises(SpecError, match="no saved pipeline"):
        load_fitted(tmp_path)
    fitted = refit(lce_study, X, y, trial=0)
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) \['FC'\]"):
        fitted.predict(X.drop(columns=["FC"]))


def test_rebuild_keeps_the_training_column_order(kim_ce, tmp_path):
    # the JSON spec sorts its keys; a forest subsampling features must still see the columns
    # in training order, or the rebuilt model differs from the saved one
    X, y = kim_ce
    assert list(X.columns) != sorted(X.columns)
    params = {"imputer": "median", "fusion": "single", "model": "rf", "model.rf.n_estimators": 30, "model.rf.max_features": 0.4}
    fitted = refit(params, X, y, task="regression", seed=4)
    fitted.save(tmp_path / "m")
    rebuilt = load_fitted(tmp_path / "m").rebuild().fit(X, y)
    assert np.allclose(rebuilt.predict(X.head(20)), fitted.estimator.predict(X.head(20)))
