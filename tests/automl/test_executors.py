"""Trials evaluated on workers: only the driver talks to the study (ask/tell)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from planner.automl import make_executor, run_search
from planner.automl._evaluate import FoldStopRule
from planner.exceptions import SpecError


def test_fold_stop_rule_prunes_past_the_warm_up():
    rule = FoldStopRule(thresholds=(None, 0.3, 0.25), direction="minimize", n_warmup_steps=1)
    assert not rule(0, 9.0)  # warm-up
    assert rule(1, 0.31) and not rule(1, 0.29)
    assert not rule(5, 9.0)  # no threshold known past the snapshot
    assert FoldStopRule(thresholds=(0.7, 0.7), direction="maximize")(1, 0.6)


def test_make_executor_kinds():
    assert make_executor("local", 1) is None
    with pytest.raises(SpecError, match="unknown executor 'dask'"):
        make_executor("dask", 2)
    with pytest.raises(SpecError, match="n_workers must be an integer >= 1"):
        make_executor("local", 0)


@pytest.mark.slow
def test_process_pool_search_with_two_workers(kim_ce, storage_url):
    X, y = kim_ce
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="par", n_trials=4, seed=0, n_workers=2)
    assert len(study.trials) == 4
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in study.trials)
    # fold values are reported by the driver after the worker returns
    assert all(t.intermediate_values for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)


@pytest.mark.slow
def test_ray_executor_runs_trials_as_ray_tasks(kim_ce, storage_url):
    X, y = kim_ce
    study = run_search(X, y, task="regression", search_space="fast", storage_url=storage_url, study_name="ray", n_trials=3, seed=0, n_workers=2, executor="ray")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    import ray

    assert not ray.is_initialized(), "an executor run_search started must be shut down"


def test_fold_thresholds_count_pruned_trials_too():
    """The reference population is every trial that reached a fold, not only the survivors."""
    from types import SimpleNamespace

    from planner.automl._pruning import KEEP_PERCENTILE, fold_thresholds

    def trial(number, state, values):
        return SimpleNamespace(number=number, state=SimpleNamespace(name=state), intermediate_values=dict(enumerate(values)))

    complete = [trial(i, "COMPLETE", [0.20, 0.20]) for i in range(5)]
    pruned = [trial(5 + i, "PRUNED", [0.40]) for i in range(5)]
    assert fold_thresholds(complete[:4], "minimize") == ()  # too few completed trials
    with_pruned = fold_thresholds(complete + pruned, "minimize")
    assert with_pruned[0] == pytest.approx(0.40) and with_pruned[1] == pytest.approx(0.20)
    assert fold_thresholds(complete + pruned, "minimize", exclude=0) == ()  # the judged trial does not count
    # without trial 5: five 0.20s and four 0.40s at fold 0
    assert fold_thresholds(complete + pruned, "minimize", exclude=5)[0] == pytest.approx(np.percentile([0.2] * 5 + [0.4] * 4, KEEP_PERCENTILE))
    assert fold_thresholds(complete + pruned, "maximize")[0] == pytest.approx(0.20)
