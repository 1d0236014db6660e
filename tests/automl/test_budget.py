"""The time budget is a promise: hard trial deadlines, cheap defaults first, a refit inside the
budget, size-aware gating, baselines, reasons that read, lower fidelities on big tables."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd
import pytest

from planner.automl import baselines, fit_final, leaderboard, load_search_space, run_search
from planner.automl._data import memory_row_cap, prepare_data, subsample_data
from planner.automl._final import best_trial
from planner.automl._keys import rank_by_fidelity
from planner.automl._pruning import FoldStopRule
from planner.automl._space import SpaceContext
from planner.automl._worker import DeadlineWorker, call_with_deadline
from planner.exceptions import SpecError


def _synthetic(n: int, d: int = 8, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, d)), columns=[f"x{i}" for i in range(d)])
    return X, X["x0"].to_numpy() * 2 + np.sin(X["x1"].to_numpy()) + rng.normal(scale=0.1, size=n)


def test_a_trial_past_its_deadline_is_killed_and_keeps_its_finished_folds():
    from planner.automl import make_splits

    X, y = _synthetic(3000)
    splits, _ = make_splits(y, task="regression", seed=0)
    slow = {"imputer": "median", "fusion": "single", "model": "rf", "model.rf.n_estimators": 400, "model.rf.max_features": 1.0, "model.rf.min_samples_leaf": 1}
    worker = DeadlineWorker(X, y)
    seen: list[int] = []
    try:
        started = time.monotonic()
        result = worker.evaluate(slow, limit_s=1.5, rule=None, on_fold=lambda step, value: seen.append(step), metric="mae", n_folds=len(splits), task="regression", cv_spec=splits, seed=0)
        wall = time.monotonic() - started
        assert result.status == "pruned" and wall < 1.5 + 2.0, wall
        assert result.failure_reason.startswith("TimeBudget: stopped by the clock after") and f"of {len(splits)} folds done" in result.failure_reason
        assert len(result.fold_scores) == len(seen) < len(splits)
        assert worker.n_killed == 1
        # the next trial gets a fresh worker and finishes
        quick = worker.evaluate({"fusion": "single", "model": "ridge"}, limit_s=30, rule=None, metric="mae", n_folds=len(splits), task="regression", cv_spec=splits, seed=0)
        assert quick.status == "complete" and quick.value < 1.0
    finally:
        worker.close()


def test_call_with_deadline_returns_the_result_or_the_reason():
    assert call_with_deadline(sum, [1, 2, 3], limit_s=10) == (6, None)
    result, why = call_with_deadline(time.sleep, 5, limit_s=0.5)
    assert result is None and why.startswith("TimeBudget: stopped by the clock")
    result, why = call_with_deadline(int, "not a number", limit_s=10)
    assert result is None and why.startswith("ValueError")


def test_the_fold_rule_states_its_reason_whole():
    rule = FoldStopRule(thresholds=(None, 0.5, 0.5), direction="minimize", n_warmup_steps=1)
    assert rule(0, 9.0) is None and rule(1, 0.4) is None
    reason = rule(1, 0.7)
    assert reason.startswith("Pruned: mean score 0.7 after 2 fold(s) is above 0.5") and reason.endswith("(in the worst 40%)")


@pytest.mark.slow
def test_a_timed_search_and_its_refit_end_inside_the_budget(kim_ce, storage_url):
    X, y = kim_ce
    budget = 12.0
    started = time.monotonic()
    study = run_search(X, y, task="regression", search_space="default", storage_url=storage_url, study_name="b", n_trials=None, timeout_s=budget, seed=0, reserve_refit=True)
    fitted = fit_final(study, X, y, timeout_s=budget - (time.monotonic() - started))
    wall = time.monotonic() - started
    assert wall <= 1.10 * budget, wall
    first = study.trials[0]
    assert first.user_attrs["source"] == "default" and first.user_attrs["model_family"] == "linear", "the cheapest default goes first"
    assert first.state == optuna.trial.TrialState.COMPLETE
    # every trial that did not complete says why, whole
    for t in study.trials:
        if t.state in (optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL):
            assert t.user_attrs.get("failure_reason"), t.number
    table = baselines(study)
    assert list(table["baseline"]) == ["mean", "random_forest"] and pd.notna(table.loc[0, "mean"])
    # on a loaded machine the forest may not fit in what is left: then it says so
    assert pd.notna(table.loc[1, "mean"]) or table.loc[1, "reason"].startswith(("not run:", "TimeBudget:"))
    assert table.loc[0, "mean"] > leaderboard(study).loc[0, "mean"], "the search beats predicting the mean"
    assert fitted.spec["final"]["refit_s"] >= 0 and len(fitted.predict(X.head(3))) == 3


@pytest.mark.slow
def test_a_first_trial_that_cannot_finish_names_the_budget_it_needs(storage_url, tmp_path):
    X, y = _synthetic(4000, d=20)
    space = tmp_path / "slow.yaml"
    space.write_text(
        "version: 1\nname: slow\ncv: {n_splits: 5, n_repeats: 1}\nsteps: {imputer: [median]}\n"
        "fusion:\n  single:\n    models:\n      rf: {n_estimators: 600, max_features: 1.0, min_samples_leaf: 1}\n"
    )
    with pytest.raises(SpecError, match=r"too small for this table \(4000 rows\).*Give --timeout \d+ or more"):
        run_search(X, y, task="regression", search_space=str(space), storage_url=storage_url, study_name="s", n_trials=None, timeout_s=5.0, seed=0)


def test_components_whose_cost_explodes_are_gated_by_size_with_a_reason():
    space = load_search_space("default")
    small = SpaceContext(task="regression", n_samples=200, n_features=5)
    large = SpaceContext(task="regression", n_samples=50_000, n_features=5)
    assert not space.gated(small)
    gated = space.gated(large)
    assert {"model.gp", "model.kernel_ridge", "model.svr", "selector.sfs", "imputer.iterative", "fusion.stacking"} <= set(gated)
    assert "O(n^3)" in gated["model.gp"] and "50000" in gated["model.gp"]
    study = optuna.create_study()
    models = set()
    for _ in range(60):
        trial = study.ask()
        params = space.suggest(trial, large)
        models |= {params.get("model"), *str(params.get("stacking.bases", "")).split("+"), *str(params.get("voting.bases", "")).split("+")}
        study.tell(trial, 0.0)
    assert not models & {"gp", "kernel_ridge", "svr"} and params.get("fusion") != "stacking"


def test_a_table_too_big_for_memory_is_searched_on_a_stated_subsample():
    X, y = _synthetic(1000)
    data = prepare_data(X, y, task="regression")
    assert memory_row_cap(data, free_bytes=10**12) is None
    cap = memory_row_cap(data, free_bytes=200 * 8 * 8 * 12 * 2)
    assert cap == 200
    small = subsample_data(data, cap, seed=0)
    assert len(small.y) == 200 and "searched and refitted on a seeded subsample of 200 rows" in small.notes[-1]


def test_low_fidelity_trials_are_promoted_and_never_ranked_with_full_ones(kim_ce, storage_url, monkeypatch):
    from planner.automl import _driver

    monkeypatch.setattr(_driver, "FULL_FIDELITY_ROWS", 50)
    monkeypatch.setattr(_driver, "LOW_FIDELITY_ROWS", (60, 60))
    X, y = kim_ce
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="f", n_trials=8, seed=0)
    finished = [t for t in study.trials if t.state.is_finished()]
    low = [t.number for t in finished if t.user_attrs["fidelity"] < 1]
    assert all(t.user_attrs["n_folds"] == 2 for t in finished if t.number in low), "low fidelity runs 2 of the folds"
    promoted = [t for t in finished if t.user_attrs.get("source") == "promoted"]
    assert low and promoted and promoted[0].user_attrs["fidelity"] == 1.0
    assert promoted[0].user_attrs["params"] == study.trials[promoted[0].user_attrs["promoted_from"]].user_attrs["params"]
    table = leaderboard(study)
    complete = table[table["state"] == "complete"]
    ranked = rank_by_fidelity([t for t in study.trials if t.state.name == "COMPLETE"], 1.0)
    assert list(complete["trial"]) == [t.number for t in ranked] and complete["trial"].iloc[0] == best_trial(study).number
    for hi, lo in zip(ranked, ranked[1:], strict=False):  # never ranked as equals: lower fidelity above only by a clear lead
        f_hi, f_lo = hi.user_attrs["fidelity"], lo.user_attrs["fidelity"]
        if f_hi < f_lo:
            assert hi.value + hi.user_attrs["std"] < min(t.value for t in ranked if t.user_attrs["fidelity"] == f_lo)


def _frozen(number: int, value: float, fidelity: float, std: float):
    return optuna.trial.create_trial(value=value, user_attrs={"fidelity": fidelity, "std": std}, params={}, distributions={})


def _numbered(trials):
    for i, t in enumerate(trials):
        t.number = i
    return trials


def test_rank_by_fidelity_lifts_only_a_clear_low_fidelity_lead():
    # 0, 1: full fidelity; 2: low fidelity, clearly better; 3: low, better only within its spread; 4: low, worse
    trials = _numbered([_frozen(0, 0.30, 1.0, 0.01), _frozen(1, 0.35, 1.0, 0.01), _frozen(2, 0.24, 0.2, 0.005), _frozen(3, 0.295, 0.2, 0.01), _frozen(4, 0.50, 0.2, 0.01)])
    assert [t.number for t in rank_by_fidelity(trials, 1.0)] == [2, 0, 1, 3, 4]
    # larger is better (accuracy): mirror image
    flipped = _numbered([_frozen(0, 0.70, 1.0, 0.01), _frozen(1, 0.65, 1.0, 0.01), _frozen(2, 0.76, 0.2, 0.005), _frozen(3, 0.705, 0.2, 0.01), _frozen(4, 0.50, 0.2, 0.01)])
    assert [t.number for t in rank_by_fidelity(flipped, -1.0)] == [2, 0, 1, 3, 4]
    # without a full-fidelity trial the low ones rank by score; a missing spread is no margin
    assert [t.number for t in rank_by_fidelity(_numbered([_frozen(0, 0.4, 0.2, 0.0), _frozen(1, 0.3, 0.2, 0.0)]), 1.0)] == [1, 0]
    # three tiers: a 0.1 trial that beats the best at 0.5 but not the best at 1.0 lands in the 0.5 tier
    tiers = _numbered([_frozen(0, 0.20, 1.0, 0.0), _frozen(1, 0.30, 0.5, 0.0), _frozen(2, 0.25, 0.1, 0.01)])
    assert [t.number for t in rank_by_fidelity(tiers, 1.0)] == [0, 2, 1]


def test_best_trial_and_leaderboard_agree_on_a_lifted_trial():
    study = optuna.create_study(direction="minimize")
    study.set_user_attr("planner", {"direction": "minimize", "task": "regression", "metric": "mae"})
    for value, fidelity, std in [(0.30, 1.0, 0.01), (0.24, 0.2, 0.005), (0.29, 0.2, 0.02)]:
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"fidelity": fidelity, "std": std, "params": {}, "pipeline": "p"}, params={}, distributions={}))
    assert best_trial(study).number == 1
    table = leaderboard(study)
    assert list(table["trial"]) == [1, 0, 2] and list(table["rank"]) == [1, 2, 3]


@pytest.mark.slow
def test_promotion_is_successive_halving_over_each_fidelity(storage_url):
    """ASHA: each promoted trial was, when promoted, the best not yet promoted of the top third
    of the low-fidelity trials finished before it; several are promoted, none twice."""
    from planner.automl import CVSpec
    from planner.automl._driver import PROMOTION_ETA

    X, y = _synthetic(120)
    study = run_search(
        X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="asha", n_trials=24, seed=0,
        cv_spec=CVSpec(n_splits=3, n_repeats=3),
    )
    trials = study.trials
    # the default forest is cheap on a small table: scored on every repeat, like the final model's candidates
    forest = study.user_attrs["baselines"][1]
    assert forest["name"] == "random_forest" and forest["status"] == "complete" and forest["n_folds"] == 9 and forest["fidelity"] == 1.0
    promoted = [t for t in trials if t.user_attrs.get("source") == "promoted"]
    sources = [int(t.user_attrs["promoted_from"]) for t in promoted]
    assert len(promoted) >= 3 and len(set(sources)) == len(sources)
    assert all(t.user_attrs["fidelity"] == 1.0 and t.user_attrs["n_folds"] == 9 for t in promoted if t.state.name == "COMPLETE")
    for t, source in zip(promoted, sources, strict=True):
        before = sorted((u for u in trials[: t.number] if u.state.name == "COMPLETE" and u.user_attrs["fidelity"] < 1.0), key=lambda u: (u.value, u.number))
        top = before[: max(1, len(before) // PROMOTION_ETA)]
        assert source in [u.number for u in top], f"trial {source} was promoted from outside the top third"
        earlier = {s for s, p in zip(sources, promoted, strict=True) if p.number < t.number}
        assert all(u.number in earlier or u.number == source for u in top[: [u.number for u in top].index(source)]), "a better unpromoted trial was passed over"
