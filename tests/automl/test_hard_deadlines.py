"""Trials on an executor are stopped at a hard deadline: a fold that runs far past its
limit is killed (its worker process, or its Ray task), recorded with its reason, and the
search returns inside its budget. Real spawn processes and a real local Ray, no mocks."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pandas as pd
import psutil
import pytest

from planner.automl import run_search
from planner.automl._keys import FAILURE_REASON_ATTR
from planner.executors import ProcessExecutor

#: One random forest of 100,000 full-depth trees: one fold takes many minutes, far past any limit here.
_SLOW_SPACE = (
    "version: 1\nname: slow_fold\ncv: {n_splits: 5, n_repeats: 1}\nsteps: {imputer: [median]}\n"
    "fusion:\n  single:\n    models:\n      ridge: {alpha: 1.0}\n"
    "      rf: {n_estimators: 100000, max_features: 1.0, min_samples_leaf: 1}\n"
    "defaults:\n  - {imputer: median, fusion: single, model: ridge}\n"
    "  - {imputer: median, fusion: single, model: rf}\n"
)


def _table(n: int = 1500, d: int = 10) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n, d)), columns=[f"x{i}" for i in range(d)])
    return X, X["x0"].to_numpy() * 2 + np.sin(X["x1"].to_numpy()) + rng.normal(scale=0.1, size=n)


def _descendants() -> set[int]:
    """Live child processes, less multiprocessing's resource tracker (one per interpreter, started once)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _gone(before: set[int], wait_s: float = 20.0) -> set[int]:
    """Processes started since ``before`` still alive after ``wait_s`` (none: nothing orphaned)."""
    until = time.monotonic() + wait_s
    while True:
        left = _descendants() - before
        if not left or time.monotonic() > until:
            return left
        time.sleep(0.25)


def _show(pids: set[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(f"{pid}: {' '.join(psutil.Process(pid).cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return out


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pytest.mark.slow
def test_process_executor_stop_kills_one_call_and_keeps_the_others():
    ex = ProcessExecutor(2)
    before = _descendants()
    try:
        slow, quick = ex.submit(_sleep, 600.0), ex.submit(_sleep, 0.1)
        assert quick.result(timeout=60) == 0.1
        time.sleep(0.5)
        assert not slow.done() and ex.stop(slow)
        assert slow.done()
        assert ex.submit(_sleep, 0.2).result(timeout=60) == 0.2, "a fresh worker takes the killed one's slot"
        assert not ex.stop(quick), "a finished call is not stopped"
    finally:
        ex.shutdown()
    assert not (left := _gone(before)), f"every worker process ends with the pool: {_show(left)}"


@pytest.mark.slow
@pytest.mark.parametrize("kind, budget", [("process", 20.0), ("ray", 30.0)])
def test_a_fold_far_past_its_limit_is_stopped_and_the_search_keeps_its_budget(kind, budget, tmp_path):
    if kind == "ray":
        ray = pytest.importorskip("ray")
        if ray.is_initialized():
            ray.shutdown()
    space = tmp_path / "slow.yaml"
    space.write_text(_SLOW_SPACE)
    X, y = _table()
    before = _descendants()
    started = time.monotonic()
    study = run_search(
        X,
        y,
        task="regression",
        search_space=str(space),
        storage_url=f"sqlite:///{tmp_path / 'o.db'}",
        study_name=kind,
        n_trials=None,
        timeout_s=budget,
        seed=0,
        n_workers=2,
        executor=kind,
        reserve_refit=True,
    )
    elapsed = time.monotonic() - started
    assert elapsed <= 1.10 * budget, f"the search took {elapsed:.1f} s of a {budget:g} s budget"
    states = {t.number: t.state for t in study.trials}
    stopped = [t for t in study.trials if "stopped at its deadline of" in (t.user_attrs.get(FAILURE_REASON_ATTR) or "")]
    assert stopped, f"no trial was stopped by force: {[(t.params.get('model'), t.state.name, t.user_attrs.get(FAILURE_REASON_ATTR)) for t in study.trials]}"
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in stopped), [(t.params, t.user_attrs.get(FAILURE_REASON_ATTR)) for t in stopped]
    assert any(t.params["model"] == "rf" for t in stopped)
    assert "its worker process was killed" in stopped[0].user_attrs[FAILURE_REASON_ATTR]
    assert optuna.trial.TrialState.COMPLETE in states.values(), "the cheap trials still complete"
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING], "every trial was told"
    assert not (left := _gone(before)), f"no worker process outlives the search: {_show(left)}"


@pytest.mark.slow
def test_planner_run_with_a_process_pool_ends_inside_its_budget(tmp_path, capsys):
    """The whole `planner run --timeout T --workers 2` (the spawn process pool), final refit included."""
    import yaml

    from planner.cli import main

    X, y = _table()
    csv = tmp_path / "data.csv"
    X.assign(y=y).to_csv(csv, index=False)
    assert main(["init", str(tmp_path / "camp"), "--data", str(csv), "--target", "y:min"]) == 0, capsys.readouterr().err
    space = tmp_path / "slow.yaml"
    space.write_text(_SLOW_SPACE)
    spec_file = tmp_path / "camp" / "campaign.yaml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["search_space"] = str(space)
    spec_file.write_text(yaml.safe_dump(spec))
    capsys.readouterr()
    before = _descendants()
    budget = 25.0
    started = time.monotonic()
    code = main(["run", str(tmp_path / "camp"), "--timeout", f"{budget:g}", "--executor", "local", "--workers", "2"])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 0, err
    assert elapsed <= 1.10 * budget, f"planner run took {elapsed:.1f} s of a {budget:g} s budget"
    storage = f"sqlite:///{tmp_path / 'camp' / 'optuna.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    reasons = [t.user_attrs.get(FAILURE_REASON_ATTR) or "" for t in study.trials]
    assert any(r.startswith("TimeBudget: stopped at its deadline of") for r in reasons), reasons
    assert not (left := _gone(before)), f"no worker process outlives planner run: {_show(left)}"
