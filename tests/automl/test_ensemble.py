"""Ensemble selection over a finished search: out-of-fold predictions on the trials, greedy
selection, and the selected ensemble refitted, saved and rebuilt like any pipeline."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from threadpoolctl import threadpool_limits

from planner.automl import CVSpec, build_pipeline, evaluate_pipeline, load_fitted, make_splits, refit, run_search
from planner.automl._ensemble import PipelineEnsembleClassifier, PipelineEnsembleRegressor, select_ensemble
from planner.automl._evaluate import MAX_OOF_VALUES

RIDGE = {"imputer": "median", "scaler": "standard", "fusion": "single", "model": "ridge", "model.ridge.alpha": 3.0}


def test_oof_predictions_are_the_repeat_average_of_held_out_predictions(kim_ce):
    X, y = kim_ce
    cv = CVSpec(n_splits=4, n_repeats=2)
    result = evaluate_pipeline(RIDGE, X, y, task="regression", cv_spec=cv, seed=1)
    splits, _ = make_splits(np.asarray(y), task="regression", cv_spec=cv, seed=1)
    total, count = np.zeros(len(y)), np.zeros(len(y))
    for train, test in splits:
        model = build_pipeline(RIDGE, task="regression", column_roles={c: "numeric" for c in X.columns}, seed=1)
        total[test] += model.fit(X.iloc[train], y.iloc[train]).predict(X.iloc[test])
        count[test] += 1
    assert count.min() == 2  # every row held out once per repeat
    assert np.allclose(np.asarray(result.oof)[:, 0], total / count)
    assert len(result.user_attrs()["oof"]) == len(y)


def test_oof_is_left_out_for_pruned_trials_and_big_tables(kim_ce):
    X, y = kim_ce
    pruned = evaluate_pipeline(RIDGE, X, y, task="regression", cv_spec=CVSpec(n_splits=5), on_fold=lambda i, v: i == 1)
    assert pruned.status == "pruned" and pruned.oof is None and pruned.user_attrs()["oof"] is None
    n = MAX_OOF_VALUES + 10
    rng = np.random.default_rng(0)
    big = evaluate_pipeline(RIDGE, X.sample(n, replace=True, random_state=0).reset_index(drop=True), rng.normal(size=n), task="regression", cv_spec=CVSpec(n_splits=2))
    assert big.status == "complete" and big.oof is None


def _study_with_oof(y, candidates, direction="minimize", metric="mae", task="regression"):
    """A real in-memory study whose complete trials carry the given out-of-fold predictions."""
    study = optuna.create_study(direction=direction)
    study.set_user_attr("planner", {"version": 1, "task": task, "metric": metric, "direction": direction, "seed": 0})
    for k, (value, oof) in enumerate(candidates):
        study.add_trial(
            optuna.trial.create_trial(
                value=value,
                params={},
                distributions={},
                user_attrs={"params": {"model": f"m{k}"}, "oof": [[float(v)] for v in oof] if task == "regression" else oof},
            )
        )
    return study


def test_selection_finds_the_combination_that_cancels_errors():
    y = np.linspace(0.0, 1.0, 40)
    noise = np.where(np.arange(40) % 2 == 0, 0.2, -0.2)
    # two models with opposite errors: each has MAE 0.2, their mean is exact
    study = _study_with_oof(y, [(0.2, y + noise), (0.2, y - noise), (0.25, y + 0.25)])
    sel = select_ensemble(study, y)
    assert sel is not None and sorted(sel.trials) == [0, 1]
    assert sel.weights == pytest.approx((0.5, 0.5)) and sel.score == pytest.approx(0.0, abs=1e-12)
    assert sel.best_single_score == pytest.approx(0.2)


def test_selection_keeps_one_member_when_averaging_does_not_help():
    y = np.linspace(0.0, 1.0, 30)
    study = _study_with_oof(y, [(0.01, y + 0.01), (0.5, y + 0.5), (0.6, y - 0.6)])
    sel = select_ensemble(study, y)
    assert sel.trials == (0,) and sel.weights == (1.0,) and sel.score == pytest.approx(0.01)


def test_selection_needs_two_trials_with_predictions():
    y = np.arange(10.0)
    assert select_ensemble(_study_with_oof(y, [(0.1, y)]), y) is None


@pytest.fixture(scope="module")
def lce_ensemble_study(kim_ce, tmp_path_factory):
    X, y = kim_ce
    url = f"sqlite:///{tmp_path_factory.mktemp('ens') / 'optuna.db'}"
    return run_search(X, y, task="regression", search_space="fast", storage_url=url, study_name="lce-ens", n_trials=8, seed=5)


def test_selection_on_a_real_search_scores_what_it_says(lce_ensemble_study, kim_ce):
    _, y = kim_ce
    sel = select_ensemble(lce_ensemble_study, y)
    assert sel is not None and sel.n_candidates >= 2
    trials = {t.number: t for t in lce_ensemble_study.trials}
    assert all(trials[n].state == optuna.trial.TrialState.COMPLETE for n in sel.trials)
    assert sum(sel.weights) == pytest.approx(1.0) and sel.score <= sel.best_single_score + 1e-12
    # recompute the ensemble's out-of-fold MAE from the stored predictions
    P = sum(w * np.asarray(trials[n].user_attrs["oof"])[:, 0] for n, w in zip(sel.trials, sel.weights, strict=True))
    assert np.mean(np.abs(np.asarray(y) - P)) == pytest.approx(sel.score, rel=1e-5)


def test_refit_ensemble_predicts_the_weighted_mean_and_round_trips(lce_ensemble_study, kim_ce, tmp_path):
    X, y = kim_ce
    fitted = refit(lce_ensemble_study, X, y, ensemble=True)
    info = fitted.spec["ensemble"]
    new = X.sample(8, random_state=1)
    if info is None or len(info["trials"]) < 2:
        pytest.skip("selection kept a single pipeline on this search")
    assert isinstance(fitted.estimator, PipelineEnsembleRegressor)
    members = [refit(lce_ensemble_study, X, y, trial=n).estimator.predict(new) for n in info["trials"]]
    assert np.allclose(fitted.estimator.predict(new), np.average(members, axis=0, weights=info["weights"]))
    assert fitted.spec["pipeline"].startswith("ensemble[") and fitted.spec["fusion_kind"] == "heterogeneous:ensemble_selection"
    out = fitted.predict(new)
    assert fitted.has_uncertainty and (out["std"] >= 0).all() and out["std"].max() > 0
    fitted.save(tmp_path / "model")
    loaded = load_fitted(tmp_path / "model")
    assert np.allclose(loaded.predict(new)["prediction"], out["prediction"])
    with threadpool_limits(limits=1):  # as refit fits (boosting libraries sum in thread order)
        rebuilt = loaded.rebuild().fit(X, y)
    assert np.allclose(rebuilt.predict(new), out["prediction"])


def test_refit_without_ensemble_is_the_best_trial(lce_ensemble_study, kim_ce):
    X, y = kim_ce
    fitted = refit(lce_ensemble_study, X, y)
    assert "ensemble" not in fitted.spec and fitted.spec["trial"] == lce_ensemble_study.best_trial.number


def test_classification_ensemble_averages_probabilities(llzo_features, llzo, tmp_path):
    y = llzo["good_cond"]
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = run_search(llzo_features, y, task="classification", search_space="fast", storage_url=url, study_name="gc", n_trials=6, seed=2)
    sel = select_ensemble(study, y.to_numpy())
    assert sel is not None
    params = {
        "kind": "ensemble",
        "members": [dict(t.user_attrs["params"]) for t in study.trials if t.user_attrs.get("oof") is not None][:2],
        "weights": [0.7, 0.3],
    }
    fitted = refit(params, llzo_features, y, task="classification")
    assert isinstance(fitted.estimator, PipelineEnsembleClassifier)
    out = fitted.predict(llzo_features.head(6))
    assert list(out.columns) == ["prediction", "proba_0", "proba_1"]
    assert np.allclose(out[["proba_0", "proba_1"]].sum(axis=1), 1.0)
    members = [refit(m, llzo_features, y, task="classification").estimator.predict_proba(llzo_features.head(6)) for m in params["members"]]
    assert np.allclose(out[["proba_0", "proba_1"]].to_numpy(), 0.7 * members[0] + 0.3 * members[1])


def _with_forest(study, mean):
    """An in-memory copy of ``study`` whose default-forest baseline scored ``mean`` at full fidelity."""
    from planner.automl._final import _snapshot

    copy = _snapshot(study)
    forest = {"name": "random_forest", "pipeline": "default random forest", "mean": mean, "std": 0.0, "n_folds": 15, "fit_time_s": 1.0, "status": "complete", "reason": None, "fidelity": 1.0}
    copy.set_user_attr("baselines", [forest])
    return copy


def test_a_forest_that_beats_every_single_trial_but_not_the_ensemble_does_not_replace_it(lce_ensemble_study, kim_ce):
    from planner.automl import fit_final
    from planner.automl._final import best_trial

    X, y = kim_ce
    sel = select_ensemble(lce_ensemble_study, y, fidelity=1.0)
    best = best_trial(lce_ensemble_study)
    assert sel is not None and len(sel.trials) > 1 and sel.score < best.value, "the fixture's ensemble must beat its best trial"
    between = _with_forest(lce_ensemble_study, (sel.score + best.value) / 2)
    fitted = fit_final(between, X, y, ensemble=True)
    assert fitted.spec["ensemble"] is not None and fitted.spec["final"].get("baseline") is None
    assert any("the ensemble is the final model" in n for n in fitted.spec["final"]["notes"])
    # without ensembles, or when the forest beats the ensemble too, the forest is the final model
    assert fit_final(between, X, y, ensemble=False).spec["final"]["baseline"] == "random_forest"
    assert fit_final(_with_forest(lce_ensemble_study, sel.score * 0.9), X, y, ensemble=True).spec["final"]["baseline"] == "random_forest"
