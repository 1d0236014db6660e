"""explain(): SHAP values of real refit pipelines on real data; additivity holds for every explainer."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.exceptions import DataValidationError, SpecError
from planner.explain import Explanation, explain

BASE = {"imputer": "median", "scaler": "standard", "selector": "none", "fusion": "single"}


@pytest.fixture(scope="module")
def kim(datasets_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(datasets_dir / "kim2023_pnas_electrolyte_ce" / "CE_data_with_names.csv")
    return frame.drop(columns=["Electrolyte", "LCE"]), frame["LCE"]


@pytest.fixture(scope="module")
def llzo(datasets_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv").iloc[:176]
    return frame.drop(columns=["source", "conductivity", "log_cond", "good_cond"]), frame["good_cond"]


def _refit(params: dict, X: pd.DataFrame, y: pd.Series, task: str):
    from planner.automl import refit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return refit({**BASE, **params}, X, y, task=task)


def _model_output(fitted, X: pd.DataFrame, e: Explanation) -> np.ndarray:
    pred = fitted.predict(X.loc[e.values.index])
    if fitted.task == "regression":
        return pred["prediction"].to_numpy(float)
    proba = pred.iloc[:, -1].to_numpy(float)  # the last class: explain's default output
    return np.log(proba / (1 - proba)) if e.output.startswith("log-odds") else proba


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"model": "rf", "model.rf.n_estimators": 20}, "tree", id="forest-tree"),
        pytest.param({"model": "ridge", "selector": "kbest_f", "selector.kbest_f.fraction": 0.5}, "linear", id="ridge-linear"),
        pytest.param({"fusion": "voting", "voting.bases": "ridge+knn"}, "permutation", id="voting-permutation"),
    ],
)
def test_regression_values_add_up_to_the_prediction(kim, params, expected) -> None:
    X, y = kim
    fitted = _refit(params, X, y, "regression")
    e = explain(fitted, X, max_samples=60)
    assert e.explainer == expected and e.output == "prediction"
    assert e.values.shape == e.data.shape == (60, len(e.feature_names))
    assert set(e.values.index) <= set(X.index)
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1).to_numpy(), _model_output(fitted, X, e), atol=1e-8)
    # names after preprocessing, without the ColumnTransformer's branch prefix
    assert all("__" not in n for n in e.feature_names)
    if "selector" in params:
        assert len(e.feature_names) < X.shape[1]  # the selector dropped half
    importance = e.importance()
    assert list(importance.index) == list(e.values.abs().mean().sort_values(ascending=False).index)


@pytest.mark.parametrize(
    ("params", "expected", "scale"),
    [
        pytest.param({"model": "rf", "model.rf.n_estimators": 20}, "tree", "probability", id="forest"),
        pytest.param({"model": "logistic"}, "linear", "log-odds", id="logistic"),
        pytest.param({"model": "knn"}, "permutation", "probability", id="knn"),
    ],
)
def test_classification_explains_the_positive_class(llzo, params, expected, scale) -> None:
    X, y = llzo
    fitted = _refit({"encoder": "onehot", **params}, X, y, "classification")
    e = explain(fitted, X, max_samples=50, background=20)
    assert e.explainer == expected
    assert e.output == f"{scale} of class 1.0"
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1).to_numpy(), _model_output(fitted, X, e), atol=1e-6)
    # one-hot encoded dopants show up as their own features
    assert len(e.feature_names) > X.select_dtypes("number").shape[1]


def test_permutation_matches_the_exact_linear_values(kim) -> None:
    """On a linear model, permutation SHAP with an independent background is exact: same values."""
    X, y = kim
    fitted = _refit({"model": "ridge"}, X, y, "regression")
    exact = explain(fitted, X, max_samples=40, background=30, method="linear")
    approx = explain(fitted, X, max_samples=40, background=30, method="permutation")
    assert approx.explainer == "permutation"
    np.testing.assert_allclose(approx.values.to_numpy(), exact.values.to_numpy(), atol=1e-9)
    assert approx.base_value == pytest.approx(exact.base_value)


def test_same_seed_same_values(kim) -> None:
    X, y = kim
    fitted = _refit({"fusion": "voting", "voting.bases": "ridge+rf", "voting.base.rf.n_estimators": 10}, X, y, "regression")
    a = explain(fitted, X, max_samples=30, background=10, seed=3)
    b = explain(fitted, X, max_samples=30, background=10, seed=3)
    pd.testing.assert_frame_equal(a.values, b.values)


def test_a_plain_scikit_learn_pipeline_works_too(kim) -> None:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = kim
    pipe = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=10, random_state=0)).fit(X, y)
    e = explain(pipe, X, max_samples=20)
    assert e.explainer == "tree" and e.feature_names == list(X.columns)
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1), pipe.predict(X.loc[e.values.index]), atol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"max_samples": 0}, SpecError, "max_samples must be an integer >= 1", id="max-samples"),
        pytest.param({"background": 2.5}, SpecError, "background must be an integer >= 1", id="background"),
        pytest.param({"method": "kernel"}, SpecError, "method must be one of", id="method"),
        pytest.param({"method": "tree"}, SpecError, "method='tree' needs a tree model", id="tree-on-ridge"),
    ],
)
def test_bad_arguments(kim, kwargs, error, match) -> None:
    X, y = kim
    fitted = _refit({"model": "ridge"}, X, y, "regression")
    with pytest.raises(error, match=match):
        explain(fitted, X, **kwargs)


def test_bad_data(kim) -> None:
    X, y = kim
    fitted = _refit({"model": "ridge"}, X, y, "regression")
    with pytest.raises(DataValidationError, match=r"X lacks column\(s\) \['FC'\]"):
        explain(fitted, X.drop(columns=["FC"]))
    with pytest.raises(DataValidationError, match="X has no rows"):
        explain(fitted, X.iloc[:0])
    with pytest.raises(DataValidationError, match="must be a pandas DataFrame"):
        explain(fitted, X.to_numpy())


def test_unfitted_pipeline(kim) -> None:
    from planner.automl import build_pipeline

    X, _ = kim
    pipe = build_pipeline({**BASE, "model": "ridge"}, task="regression", column_roles={c: "numeric" for c in X.columns})
    with pytest.raises(SpecError, match="explain needs a fitted pipeline"):
        explain(pipe, X)


def test_bad_class_index(llzo) -> None:
    X, y = llzo
    fitted = _refit({"encoder": "onehot", "model": "logistic"}, X, y, "classification")
    with pytest.raises(SpecError, match=r"class_index must be in 0..1"):
        explain(fitted, X, class_index=2)
    e = explain(fitted, X, class_index=0, max_samples=20)
    assert e.output == "log-odds of class 0.0"
    proba0 = fitted.predict(X.loc[e.values.index])["proba_0.0"].to_numpy()
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1), np.log(proba0 / (1 - proba0)), atol=1e-6)


def test_an_ensemble_of_pipelines_is_explained_on_its_raw_mixed_columns(llzo) -> None:
    """A selected ensemble takes the raw table (categorical dopants included): permutation
    SHAP swaps raw values, keeps categories as they are, and still adds up to the prediction."""
    from planner.automl import refit

    X, y = llzo
    members = [
        {**BASE, "encoder": "onehot", "model": "rf", "model.rf.n_estimators": 20},
        {**BASE, "encoder": "ordinal", "model": "logistic"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = refit({"kind": "ensemble", "members": members, "weights": [0.6, 0.4]}, X, y, task="classification")
        e = explain(fitted, X, max_samples=30, background=15)
    assert e.explainer == "permutation" and e.output == "probability of class 1.0"
    assert e.feature_names == list(X.columns)  # raw columns, not encoded ones
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    assert categorical and all(e.data[c].isin(X[c]).all() for c in categorical)
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1).to_numpy(), _model_output(fitted, X, e), atol=1e-6)
