"""Size-aware stand-ins for gated kernel models: offered only above the gate, real fits, sklearn-valid."""

from __future__ import annotations

import pickle

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error
from threadpoolctl import threadpool_limits

from planner.automl import build_pipeline, load_search_space
from planner.automl._gating import SIZE_LIMITS, ungated
from planner.automl._scalable import NystroemClassifier, NystroemRegressor, SubsetGPRegressor
from planner.automl._space import SpaceContext

SPACE = load_search_space("default")
STANDINS = {"gp": "subset_gp", "kernel_ridge": "nystroem_ridge", "svr": "nystroem_svr", "svc": "nystroem_logistic"}


def _offered_models(ctx: SpaceContext) -> set[str]:
    return {b.name for f in SPACE.fusion for b in f.bases_for(ctx.task, ctx.n_samples)}


def _frame(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])


def _roles(X: np.ndarray) -> dict[str, str]:
    return {f"x{i}": "numeric" for i in range(X.shape[1])}


def _friedman(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 10))
    y = 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4] + rng.normal(scale=1.0, size=n)
    return X, y


def test_standins_are_offered_above_the_gate_and_not_below():
    big = _offered_models(SpaceContext(task="regression", n_samples=4_000, n_features=20))
    small = _offered_models(SpaceContext(task="regression", n_samples=200, n_features=20))
    assert "subset_gp" in big and "gp" not in big  # gp's gate is 3,000 rows
    assert {"kernel_ridge", "svr"} <= big and not big & {"nystroem_ridge", "nystroem_svr"}  # gates at 5,000 and 10,000
    mid = _offered_models(SpaceContext(task="regression", n_samples=6_000, n_features=20))
    assert {"subset_gp", "nystroem_ridge", "svr"} <= mid and not mid & {"gp", "kernel_ridge", "nystroem_svr"}
    assert not small & set(STANDINS.values()) and {"gp", "kernel_ridge", "svr"} <= small
    huge = _offered_models(SpaceContext(task="regression", n_samples=12_000, n_features=20))
    assert "nystroem_svr" in huge and "svr" not in huge
    clf = _offered_models(SpaceContext(task="classification", n_samples=12_000, n_features=20, n_classes=2))
    assert "nystroem_logistic" in clf and "svc" not in clf and not clf & {"subset_gp", "nystroem_ridge", "nystroem_svr"}


@pytest.mark.parametrize("n", [50, 200, 2_999, 3_000])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_below_every_kernel_gate_the_model_choices_are_the_ones_the_space_lists(n, task):
    for fusion in SPACE.fusion:
        listed = [b for b in fusion.bases if b.supports(task)]
        if fusion.kind == "boosting" and task == "classification":
            listed = [b for b in listed if b.component.supports_sample_weight]
        assert fusion.bases_for(task, n) == ungated(listed, n)


def test_the_gating_reason_names_the_standin():
    gated = SPACE.gated(SpaceContext(task="regression", n_samples=4_000, n_features=20))
    assert gated["model.gp"] == "not offered above 3000 rows (4000 here): an exact Gaussian process costs O(n^3) time and O(n^2) memory; searched as subset_gp instead"
    assert "model.kernel_ridge" not in gated and "model.svr" not in gated
    gated = SPACE.gated(SpaceContext(task="regression", n_samples=6_000, n_features=20))
    assert gated["model.kernel_ridge"].endswith("; searched as nystroem_ridge instead")
    gated = SPACE.gated(SpaceContext(task="classification", n_samples=12_000, n_features=20, n_classes=2))
    assert gated["model.svc"].endswith("; searched as nystroem_logistic instead")
    assert "searched as" not in gated["model.knn" if "model.knn" in gated else "selector.sfs"]
    assert all(SIZE_LIMITS[("model", name)][0] >= 3_000 for name in STANDINS)


def test_a_seeded_search_above_the_gate_samples_the_standins_and_builds_them():
    ctx = SpaceContext(task="regression", n_samples=6_000, n_features=20, has_missing=False, has_categorical=False)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(150):
        trial = study.ask()
        params = SPACE.suggest(trial, ctx)
        if params.get("model") in ("subset_gp", "nystroem_ridge"):
            seen.add(params["model"])
            assert 250 <= params.get("model.subset_gp.n_subset", 250) <= 2_000
            build_pipeline(params, task="regression", column_roles={f"x{i}": "numeric" for i in range(20)}, seed=0)
        study.tell(trial, 0.0)
    assert seen == {"subset_gp", "nystroem_ridge"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nystroem_ridge", "nystroem_svr", "subset_gp"])
def test_a_standin_fits_5000_rows_and_beats_a_linear_model(name):
    X, y = _friedman(6_000)
    tr, te = slice(0, 5_000), slice(5_000, None)
    params = {"imputer": "median", "scaler": "standard", "fusion": "single", "model": name}
    pipeline = build_pipeline(params, task="regression", column_roles=_roles(X), seed=0)
    with threadpool_limits(limits=1):
        pipeline.fit(_frame(X[tr]), y[tr])
        mae = mean_absolute_error(y[te], pipeline.predict(_frame(X[te])))
        linear = mean_absolute_error(y[te], Ridge().fit(X[tr], y[tr]).predict(X[te]))
    assert mae < 0.8 * linear, (name, mae, linear)


@pytest.mark.slow
def test_the_kernel_logistic_standin_separates_a_nonlinear_boundary_on_5000_rows():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6_000, 6))
    y = np.where((X[:, 0] ** 2 + X[:, 1] ** 2) < 1.4, "inside", "outside")
    params = {"imputer": "median", "scaler": "standard", "fusion": "single", "model": "nystroem_logistic"}
    pipeline = build_pipeline(params, task="classification", column_roles=_roles(X), seed=0)
    with threadpool_limits(limits=1):
        pipeline.fit(_frame(X[:5_000]), y[:5_000])
        accuracy = float(np.mean(pipeline.predict(_frame(X[5_000:])) == y[5_000:]))
        proba = pipeline.predict_proba(_frame(X[5_000:]))
    assert accuracy > 0.9, accuracy  # a linear boundary gets about 0.5
    assert np.allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "estimator",
    [NystroemRegressor(learner="ridge", n_components=50), NystroemRegressor(learner="svr", n_components=50), SubsetGPRegressor(n_subset=80), NystroemClassifier(n_components=50)],
    ids=["nystroem_ridge", "nystroem_svr", "subset_gp", "nystroem_logistic"],
)
def test_standins_clone_and_pickle_with_the_same_predictions(estimator):
    X, y = _friedman(300)
    if isinstance(estimator, NystroemClassifier):
        y = np.where(y > np.median(y), "high", "low")
    estimator.set_params(random_state=3)
    twin = clone(estimator)
    assert twin.get_params() == estimator.get_params()
    fitted = twin.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(fitted.predict(X[:20]), again.predict(X[:20]))
    assert np.array_equal(clone(estimator).fit(X, y).predict(X[:20]), fitted.predict(X[:20]))  # seeded: reproducible
    assert fitted.n_features_in_ == 10


def test_subset_gp_fits_on_the_stated_number_of_rows_and_keeps_a_predictive_std():
    X, y = _friedman(500)
    gp = SubsetGPRegressor(n_subset=120, random_state=0).fit(X, y)
    assert len(gp.subset_) == 120 and len(set(gp.subset_)) == 120
    mean, std = gp.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == (5,) and (std > 0).all()
    from planner.automl._refit import _regression_std

    assert np.array_equal(_regression_std(gp, X[:5]), std)  # saved models report the GP's spread


@pytest.mark.slow
@pytest.mark.parametrize("estimator", [NystroemRegressor(n_components=20), NystroemClassifier(n_components=20), SubsetGPRegressor(n_subset=30)], ids=["nystroem-reg", "nystroem-clf", "subset_gp"])
def test_standins_pass_sklearns_estimator_checks(estimator):
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(estimator)


@pytest.mark.slow
def test_a_search_on_a_table_above_the_gp_gate_runs_the_subset_gp_and_records_why(storage_url, tmp_path):
    from planner.automl import run_search
    from planner.automl._keys import PARAMS_ATTR, study_info

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(4_000, 6)), columns=[f"x{i}" for i in range(6)])
    y = 2 * X["x0"].to_numpy() + np.sin(3 * X["x1"].to_numpy()) + rng.normal(scale=0.1, size=4_000)
    space = tmp_path / "gp_only.yaml"
    space.write_text(
        "version: 1\nname: gp_only\ncv: {n_splits: 3, n_repeats: 1}\nsteps: {imputer: [median], scaler: [standard]}\n"
        "fusion:\n  single:\n    models:\n      gp: {nu: {type: categorical, choices: [2.5, 1.5]}}\n"
    )
    with threadpool_limits(limits=1):
        study = run_search(X, y, task="regression", search_space=str(space), storage_url=storage_url, study_name="big", n_trials=3, seed=0)
    assert study_info(study)["gated"]["model.gp"].endswith("searched as subset_gp instead")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert done and all(t.user_attrs[PARAMS_ATTR]["model"] == "subset_gp" for t in done)
    assert min(t.value for t in done) < 0.5  # MAE of a kernel model on a smooth target (the mean scores about 1.8)
