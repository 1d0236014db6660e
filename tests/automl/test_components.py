"""Every registered component builds, fits and predicts inside a pipeline on real data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from planner.automl import build_pipeline, load_search_space
from planner.automl._components import components
from planner.automl._data import prepare_data
from planner.automl._space import SpaceContext

SPACE = load_search_space("default")


def _defaults(step: str, name: str, ctx: SpaceContext) -> dict:
    """The component's parameters at the default space's starting values."""
    for space_step, choices in SPACE.steps:
        for choice in choices:
            if space_step == step and choice.name == name:
                return {f"{step}.{name}.{p}": spec.default_value(ctx) for p, spec in choice.params}
    single = next(f for f in SPACE.fusion if f.kind == "single")
    for choice in single.bases:
        if step == "model" and choice.name == name:
            return {f"model.{name}.{p}": spec.default_value(ctx) for p, spec in choice.params}
    return {}


@pytest.fixture(scope="module")
def tables(garnets_or_synthetic):
    """The LLZO table (or, without ../shared, a generated one with the same kinds of columns)."""
    frame, _ = garnets_or_synthetic
    features = frame.drop(columns=["log_cond", "good_cond"])
    reg = prepare_data(features, frame["log_cond"], task="regression")
    clf = prepare_data(features, frame["good_cond"].map({0: "poor", 1: "good"}), task="classification")
    return {"regression": reg, "classification": clf}


CASES = [
    pytest.param(step, name, task, id=f"{step}-{name}-{task[:3]}")
    for step in ("outliers", "imputer", "encoder", "scaler", "selector", "model")
    for name, component in sorted(components(step).items())
    for task in ("regression", "classification")
    if task in component.tasks
]


@pytest.mark.parametrize(("step", "name", "task"), CASES)
def test_component_fits_in_a_pipeline(tables, step, name, task):
    data = tables[task]
    ctx = SpaceContext(task=task, n_samples=len(data.y), n_features=data.X.shape[1], n_classes=2)
    base = {"imputer": "median", "encoder": "onehot", "scaler": "standard", "fusion": "single", "model": "ridge" if task == "regression" else "logistic"}
    params = {**base, step: name, **_defaults(step, name, ctx)}
    pipeline = build_pipeline(params, task=task, column_roles=data.column_roles, seed=0)
    clone(pipeline)  # parameters only in __init__: clone-safe
    train, test = np.arange(0, len(data.y), 2), np.arange(1, len(data.y), 2)
    with threadpool_limits(limits=1):
        pipeline.fit(data.X.iloc[train], data.y[train])
        pred = pipeline.predict(data.X.iloc[test])
    assert len(pred) == len(test)
    if task == "regression":
        assert np.isfinite(pred.astype(float)).all()
    else:
        assert set(pred) <= {"poor", "good"}
        assert np.allclose(pipeline.predict_proba(data.X.iloc[test]).sum(axis=1), 1.0)


@pytest.mark.parametrize("kind", ["bagging", "boosting", "stacking", "voting"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_fusion_kinds_fit(tables, kind, task):
    data = tables[task]
    linear = "ridge" if task == "regression" else "logistic"
    params = {"imputer": "median", "encoder": "onehot", "scaler": "standard", "fusion": kind}
    if kind in ("bagging", "boosting"):
        params[f"{kind}.base"] = "tree" if kind == "boosting" else linear
        params[f"{kind}.n_estimators"] = 5
    else:
        params[f"{kind}.bases"] = f"{linear}+knn+rf"
        params[f"{kind}.base.rf.n_estimators"] = 10
        if kind == "stacking":
            params["stacking.meta"] = "ridge" if task == "regression" else "logistic"
    with threadpool_limits(limits=1):
        pipeline = build_pipeline(params, task=task, column_roles=data.column_roles, seed=0).fit(data.X, data.y)
    assert len(pipeline.predict(data.X.head(3))) == 3


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_l1_selector_keeps_one_feature_when_the_penalty_zeroes_all(tables, task):
    from planner.steps import L1Selector

    data = tables[task]
    X = data.X.select_dtypes("number").fillna(0.0).to_numpy()
    strong = L1Selector(alpha=1e6, classification=task == "classification").fit(X, data.y)
    assert strong.get_support().sum() == 1
    mild = L1Selector(alpha=1e-3, classification=task == "classification").fit(X, data.y)
    assert mild.get_support().sum() > 1
