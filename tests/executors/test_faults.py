"""Workers that die: Ray reruns the task up to ``max_retries``, then the trial fails with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest

from planner.automl import run_search
from planner.executors import RayExecutor

pytestmark = pytest.mark.slow


def _die_once(marker: str) -> str:
    if not Path(marker).exists():
        Path(marker).touch()
        os._exit(1)  # the worker process dies, as on an OOM kill or a segfault
    return "second attempt"


def _die(*args, **kwargs):
    os._exit(1)


def test_a_dead_worker_is_retried(ray_local, tmp_path):
    ex = RayExecutor(2, max_retries=1)
    assert ex.submit(_die_once, str(tmp_path / "m")).result(timeout=120) == "second attempt"


def test_retries_exhausted_raise_through_the_future(ray_local):
    ex = RayExecutor(2, max_retries=0)
    with pytest.raises(Exception, match="(?i)worker|died|crash"):
        ex.submit(_die).result(timeout=120)


class _KillsTheSecondTrial(RayExecutor):
    """Real Ray; the second trial's worker process dies every time it runs."""

    n_submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.n_submitted += 1
        return super().submit(_die if self.n_submitted == 2 else fn, *args, **kwargs)


def test_a_trial_whose_worker_keeps_dying_fails_with_the_reason_and_the_search_goes_on(kim_ce, storage_url, ray_local):
    study = run_search(
        *kim_ce, task="regression", search_space="fast", storage_url=storage_url, study_name="s",
        n_trials=4, n_workers=2, executor=_KillsTheSecondTrial(2, max_retries=1),
    )
    states = [t.state for t in study.trials]
    assert len(states) == 4 and states.count(optuna.trial.TrialState.FAIL) == 1
    failed = next(t for t in study.trials if t.state == optuna.trial.TrialState.FAIL)
    reason = failed.user_attrs["failure_reason"]
    assert reason.startswith("worker error: ") and "died" in reason and "\x1b" not in reason, reason
    assert all(s == optuna.trial.TrialState.COMPLETE for s in states if s != optuna.trial.TrialState.FAIL)
