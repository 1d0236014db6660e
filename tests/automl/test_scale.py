"""Large tables: cost-frugal growth of boosted trees, and a final refit that fits the time left.

The row thresholds are lowered (monkeypatched constants of the driver) so that a few hundred
generated rows take the large-table path with real LightGBM fits; the same data at the real
thresholds must search as before (no grown trials).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from planner.automl import fit_final, load_search_space, run_search
from planner.automl._driver import GROWN_FROM_ATTR, SOURCE_GROWN, grown_params
from planner.automl._final import best_affordable
from planner.automl._space import SearchSpace, SpaceContext

SPACE = {
    "version": 1,
    "name": "grow",
    "cv": {"n_splits": 4, "n_repeats": 1},
    "steps": {"imputer": {"median": {}}, "scaler": {"none": {}}},
    "fusion": {
        "single": {
            "models": {
                "ridge": {"alpha": {"type": "float", "low": 0.01, "high": 100.0, "log": True, "default": 1.0}},
                "lgbm": {
                    "n_estimators": {"type": "int", "low": 5, "high": 160, "log": True, "default": 40},
                    "num_leaves": {"type": "int", "low": 4, "high": 32, "log": True, "default": 8},
                    "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True, "default": 0.1},
                    "min_child_samples": 5,
                },
            }
        }
    },
    "defaults": [{"imputer": "median", "scaler": "none", "fusion": "single", "model": "ridge"}, {"imputer": "median", "scaler": "none", "fusion": "single", "model": "lgbm"}],
}


def _nonlinear(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(-2, 2, size=(n, 5)), columns=[f"x{i}" for i in range(5)])
    y = np.sin(2 * X["x0"].to_numpy()) * X["x1"].to_numpy() + np.abs(X["x2"].to_numpy()) + rng.normal(scale=0.05, size=n)
    return X, y


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "grow.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    return load_search_space(str(path))


def test_grown_params_double_trees_and_leaves_within_the_bounds(space):
    ctx = SpaceContext(task="regression", n_samples=1000, n_features=5)
    start = {"fusion": "single", "model": "lgbm", "model.lgbm.n_estimators": 5, "model.lgbm.num_leaves": 4, "model.lgbm.learning_rate": 0.1}
    grown = grown_params(start, space, ctx)
    assert grown == {**start, "model.lgbm.n_estimators": 10, "model.lgbm.num_leaves": 8}
    top = grown_params({**start, "model.lgbm.n_estimators": 120, "model.lgbm.num_leaves": 32}, space, ctx)
    assert top["model.lgbm.n_estimators"] == 160 and top["model.lgbm.num_leaves"] == 32
    assert grown_params({**start, "model.lgbm.n_estimators": 160, "model.lgbm.num_leaves": 32}, space, ctx) is None
    assert grown_params({"fusion": "single", "model": "ridge", "model.ridge.alpha": 1.0}, space, ctx) is None


@pytest.mark.slow
def test_large_tables_grow_boosted_trees_from_a_low_cost_start(space, storage_url, monkeypatch):
    from planner.automl import _driver

    monkeypatch.setattr(_driver, "LARGE_TABLE_ROWS", 300)
    monkeypatch.setattr(_driver, "FULL_FIDELITY_ROWS", 300)
    monkeypatch.setattr(_driver, "LOW_FIDELITY_ROWS", (250, 250))
    X, y = _nonlinear(800)
    study = run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="grow", n_trials=9, seed=0)
    trials = study.trials
    first = next(t for t in trials if t.params.get("model") == "lgbm")
    assert first.user_attrs["source"] == "default"
    assert first.params["model.lgbm.n_estimators"] == 5 and first.params["model.lgbm.num_leaves"] == 4, "low-cost start"
    grown = [t for t in trials if t.user_attrs.get("source") == SOURCE_GROWN and t.state.is_finished()]
    assert grown, "the low-cost start is grown"
    for t in grown:
        parent = trials[t.user_attrs[GROWN_FROM_ATTR]]
        assert t.params["model.lgbm.n_estimators"] == min(160, 2 * parent.params["model.lgbm.n_estimators"])
        assert t.user_attrs["fidelity"] == pytest.approx(parent.user_attrs["fidelity"]), "grown at the parent's fidelity"
        assert t.user_attrs["fidelity"] < 1.0
        # a chain goes on only from a default or from a step that beat its parent
        if parent.user_attrs.get("source") == SOURCE_GROWN:
            grand = trials[parent.user_attrs[GROWN_FROM_ATTR]]
            assert parent.value < grand.value
    # growth paid on this nonlinear target: the chain's trees got bigger and better
    assert min(t.value for t in grown if t.state.name == "COMPLETE") < first.value
    promoted = [t for t in trials if t.user_attrs.get("source") == "promoted"]
    assert promoted, "the end of the chain is promoted to full fidelity"
    source = trials[promoted[0].user_attrs["promoted_from"]]
    low = [t for t in trials[: promoted[0].number] if t.state.name == "COMPLETE" and t.user_attrs["fidelity"] < 1.0]
    assert source.value == min(t.value for t in low), "only the best low-fidelity trial is promoted"


@pytest.mark.slow
def test_small_tables_never_grow(space, storage_url):
    X, y = _nonlinear(800)
    study = run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="small", n_trials=6, seed=0)
    assert not [t for t in study.trials if t.user_attrs.get("source") == SOURCE_GROWN]
    assert all(t.user_attrs["fidelity"] == 1.0 for t in study.trials if t.state.is_finished())


@pytest.mark.slow
def test_a_refit_that_does_not_fit_the_time_left_yields_to_a_cheaper_trial(storage_url):
    from planner.automl._driver import refit_cost_s

    X, y = _nonlinear(1500)
    data = {
        **SPACE,
        "fusion": {"single": {"models": {"ridge": {}, "rf": {"n_estimators": 300, "max_features": 1.0}}}},
        "defaults": [{"imputer": "median", "scaler": "none", "fusion": "single", "model": m} for m in ("ridge", "rf")],
    }
    space = load_search_space(SearchSpace.from_dict(data))
    study = run_search(X, y, task="regression", search_space=space, storage_url=storage_url, study_name="afford", n_trials=2, seed=0)
    done = {t.user_attrs["params"].get("model"): t for t in study.trials if t.state.name == "COMPLETE"}
    ridge, forest = done["ridge"], done["rf"]
    assert forest.value < ridge.value, "the forest is the better model on this nonlinear target"
    cheap, dear = refit_cost_s(ridge, len(y)), refit_cost_s(forest, len(y))
    assert cheap < dear
    assert best_affordable(study, 10 * dear, len(y)).number == forest.number
    assert best_affordable(study, (cheap + dear) / 2, len(y)).number == ridge.number
    assert best_affordable(study, cheap / 2, len(y)) is None
    fitted = fit_final(study, X, y, timeout_s=(cheap + dear) / 2, grace_s=0.0, ensemble=False)
    assert fitted.spec["final"]["trial"] == ridge.number
    assert any("the best whose refit fits" in note for note in fitted.spec["final"]["notes"])
    assert fit_final(study, X, y, ensemble=False).spec["final"]["trial"] == forest.number, "without a clock the best trial is refitted"
    # the search's refit reserve is kept for the refit fit_final will make: the forest's refit
    # needs more than MAX_REFIT_SHARE of this budget, so the ridge's is reserved instead
    from planner.automl import make_splits
    from planner.automl._driver import MAX_REFIT_SHARE, SearchDriver
    from planner.automl._metrics import get_metric

    splits, _ = make_splits(y, task="regression", seed=0)
    budget = (cheap + dear) / 2 / MAX_REFIT_SHARE

    def driver(timeout_s):
        return SearchDriver(
            study=study, space=space, ctx=None, X=X, y=y, splits=splits, objective=get_metric("mae", "regression"), seed=0, n_trials=None,
            timeout_s=timeout_s, reserve_refit=True, n_workers=1, executor=None, eval_kwargs={}, make_sampler=None,
        )

    from planner.automl._driver import FINAL_OVERHEAD_S, MAX_CALIBRATION_SHARE, calibration_cost_s

    def expected(d, refits, top):
        # the final stage's overhead, the reserved refits, and the top one's calibration when it needs at most a quarter
        calibration = calibration_cost_s(top, len(y), d.per_repeat)
        return FINAL_OVERHEAD_S + sum(refits) + (calibration if calibration <= MAX_CALIBRATION_SHARE * d.timeout_s else 0.0)

    assert driver(budget).reserve_s() == pytest.approx(expected(driver(budget), [cheap], ridge))
    with pytest.MonkeyPatch.context() as patch:
        from planner.automl import _driver

        patch.setattr(_driver, "LARGE_TABLE_ROWS", 100)  # a large table reserves for one refit only
        assert driver(budget).large and driver(budget).reserve_s() == pytest.approx(expected(driver(budget), [cheap], ridge))
        assert driver(100 * dear).reserve_s() == pytest.approx(expected(driver(100 * dear), [dear], forest))
    assert driver(100 * dear).reserve_s() == pytest.approx(expected(driver(100 * dear), [cheap, dear], forest)), "small tables reserve for the best few (ensemble members)"
