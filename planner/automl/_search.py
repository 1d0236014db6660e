"""The search driver: an Optuna study over whole pipelines, via ask/tell.

Only this driver talks to the study. Trials are evaluated by
:func:`~planner.automl.evaluate_pipeline`, in the driver or on an executor's workers,
and their results told back. The study lives in the caller's storage (the campaign's
``sqlite:///.../optuna.db``), so calling :func:`run_search` again continues it.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.automl._cv import CVSpec, make_splits
from planner.automl._data import prepare_data
from planner.automl._evaluate import COMPLETE, FAILED, PRUNED, TrialResult, evaluate_pipeline
from planner.automl._executors import TrialExecutor, make_executor
from planner.automl._metrics import get_metric
from planner.automl._pruning import make_pruner, stop_rule
from planner.automl._space import SearchSpace, SpaceContext, load_search_space
from planner.exceptions import PlannerWarning, SpecError
from planner.executors import describe_failure

if TYPE_CHECKING:
    import optuna

__all__ = ["run_search", "STUDY_ATTR", "study_info"]

#: Study user attribute holding what the engine needs to refit and to resume safely.
STUDY_ATTR = "planner"
#: With a timeout, one trial may use at most this share of the time left: a pipeline whose
#: first folds project it past that is stopped (pruned, with the reason), so one slow
#: pipeline cannot eat a small budget that many cheaper trials would use better.
TRIAL_SHARE_OF_TIME_LEFT = 0.25


def _data_fingerprint(X: pd.DataFrame, y: np.ndarray) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(pd.Series(y), index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _make_sampler(seed: int, n_existing: int) -> Any:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # A fresh sampler seeded by trial index: the same seed gives the same trials
        # even when the search is interrupted and resumed.
        return optuna.samplers.TPESampler(
            seed=(seed * 1_000_003 + n_existing) % (2**32),
            n_startup_trials=10,
            multivariate=True,
            group=True,
            constant_liar=True,
        )


def study_info(study: optuna.Study) -> dict[str, Any]:
    """What :func:`run_search` recorded on the study (task, metric, seed, space, roles...).

    Raises:
        SpecError: The study was not created by :func:`run_search`.
    """
    info = study.user_attrs.get(STUDY_ATTR)
    if not info:
        raise SpecError(f"study {study.study_name!r} was not created by planner.automl.run_search; it has no {STUDY_ATTR!r} attribute")
    return info


def _check_budget(n_trials: int | None, timeout_s: float | None, n_workers: int) -> None:
    if n_trials is None and timeout_s is None:
        raise SpecError("the search needs a budget: set n_trials (e.g. 50) or timeout_s (e.g. 600), or both")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise SpecError(f"n_trials must be an integer >= 1, got {n_trials!r}; a budget of 0 runs nothing - use e.g. --trials 20")
    if timeout_s is not None and (not isinstance(timeout_s, int | float) or isinstance(timeout_s, bool) or not timeout_s > 0):
        raise SpecError(f"timeout_s must be a number of seconds > 0, got {timeout_s!r}; use e.g. --timeout 600")
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise SpecError(f"n_workers must be an integer >= 1, got {n_workers!r}")


def _tell(study: optuna.Study, trial: optuna.Trial, result: TrialResult, *, report: bool) -> Any:
    from optuna.trial import TrialState

    for key, value in result.user_attrs().items():
        trial.set_user_attr(key, value)
    if report:
        for step, value in enumerate(result.running_means()):
            trial.report(float(value), step)
    if result.status == COMPLETE:
        return study.tell(trial, result.value)
    if result.status == PRUNED:
        return study.tell(trial, state=TrialState.PRUNED)
    return study.tell(trial, state=TrialState.FAIL)


def _fail_stale(study: optuna.Study, reason: str) -> int:
    """Close trials left RUNNING by a driver that stopped (one driver per study)."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study._storage.set_trial_user_attr(t._trial_id, "failure_reason", reason)
        study._storage.set_trial_user_attr(t._trial_id, "status", FAILED)
        study.tell(t.number, state=TrialState.FAIL)
    return len(stale)


def _open_study(
    *,
    storage_url: str | Any,
    study_name: str,
    direction: str,
    info: dict[str, Any],
    n_warmup: int,
    seed: int,
) -> optuna.Study:
    import optuna

    study = optuna.create_study(
        storage=storage_url,
        study_name=study_name,
        direction=direction,
        load_if_exists=True,
        sampler=_make_sampler(seed, 0),
        pruner=make_pruner(n_warmup),
    )
    old = study.user_attrs.get(STUDY_ATTR)
    if old is None:
        if study.get_trials(deepcopy=False):
            raise SpecError(f"study {study_name!r} in {storage_url} already has trials not made by planner; choose another study_name")
        study.set_user_attr(STUDY_ATTR, info)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([info["metric"]])  # optuna-dashboard labels the objective
        return study
    for key, what in (("task", "task"), ("metric", "metric"), ("seed", "seed"), ("space_fingerprint", "search space content")):
        if old.get(key) != info[key]:
            raise SpecError(
                f"study {study_name!r} was started with {what} {old.get(key)!r}, now {info[key]!r}; "
                "a study must keep them to resume. Restore the original setting, or start a new study (another study_name)"
            )
    if old.get("data_fingerprint") != info["data_fingerprint"]:
        warnings.warn(
            f"the data changed since study {study_name!r} started ({old.get('n_rows')} -> {info['n_rows']} rows); "
            "earlier trials were scored on the old data. Start a new study to compare pipelines on the new data",
            PlannerWarning,
            stacklevel=3,
        )
    study.set_user_attr(STUDY_ATTR, {**old, **info, "created": old.get("created", info["created"])})
    return study


def run_search(
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    task: str,
    search_space: str | SearchSpace = "default",
    storage_url: str | Any,
    study_name: str,
    n_trials: int | None = 20,
    timeout_s: float | None = None,
    seed: int = 0,
    cv_spec: CVSpec | None = None,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    column_roles: Mapping[str, str] | None = None,
    metric: str | None = None,
    n_workers: int = 1,
    executor: str | TrialExecutor | None = None,
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
    progress: bool = False,
) -> optuna.Study:
    """Search the pipeline space: one Optuna trial per cross-validated pipeline.

    The first call creates the study in ``storage_url`` under ``study_name`` and
    enqueues the space's cheap default pipelines; later calls continue the same study
    (``n_trials`` more). Every fold's score is stored in the trial's user attributes;
    hopeless trials are pruned on fold-level intermediate values; a pipeline that errors
    is recorded as a failed trial with its reason and the search goes on.

    Args:
        X: Features, `n x d` (a DataFrame; composition columns need featurizing first).
        y: Target, `n` (one target per study).
        task: ``"regression"`` or ``"classification"``.
        search_space: A bundled name (``default``, ``small_data``, ``fast``), a file path,
            or a loaded :class:`SearchSpace`.
        storage_url: Optuna storage (``"sqlite:///campaign/optuna.db"``) or storage object.
        study_name: Study name inside the storage.
        n_trials: Trials to run in this call. ``None`` runs until ``timeout_s``.
        timeout_s: Stop asking for new trials after this many seconds (running ones stop
            after their current fold). A trial whose first folds project it past a quarter
            of the time left is stopped early (pruned, reason recorded).
        seed: Seeds the sampler, the folds and every estimator: same inputs and seed, same trials.
        cv_spec: K and repeats; unset fields come from the space's ``cv`` section.
        groups: Group label per row (grouped CV: a group never straddles train and test).
        column_roles: ``{column: numeric|categorical|composition|ignore}``; inferred if ``None``.
        metric: Objective (``mae``, ``rmse``, ``r2``, ``accuracy``, ``precision``,
            ``recall``, ``f1``, ``roc_auc``, ``log_loss``); default MAE / ROC-AUC.
        n_workers: Trials evaluated at once.
        executor: ``None``/``"local"`` (in the driver, or a process pool when
            ``n_workers > 1``), ``"process"``, ``"ray"``, or any object with
            ``submit(fn, *args, **kwargs) -> Future``.
        callbacks: Called as ``callback(study, frozen_trial)`` after each finished trial.
        progress: Show a progress bar with the best value so far (stderr).

    Returns:
        The ``optuna.Study`` (its storage holds every trial).

    Raises:
        SpecError: No budget or a budget of 0, bad space / metric / task, or a study that
            was started with another task, metric, seed or space.
        DataValidationError: Unusable data (one-valued target, too few rows, a class of
            one member...).
    """
    import optuna
    from optuna.trial import TrialState

    _check_budget(n_trials, timeout_s, n_workers)
    space = load_search_space(search_space)
    space.check_task(task)
    objective = get_metric(metric, task)
    data = prepare_data(X, y, task=task, column_roles=column_roles, groups=groups)
    for note in data.notes:
        warnings.warn(note, PlannerWarning, stacklevel=2)
    cv = (cv_spec or CVSpec()).with_defaults(dict(space.cv))
    splits, cv_notes = make_splits(data.y, task=task, cv_spec=cv, groups=data.groups, seed=seed)
    n_warmup = max(1, len(splits) // 3)
    ctx = SpaceContext(
        task=task,
        n_samples=len(data.y),
        n_features=data.X.shape[1],
        n_classes=len(np.unique(data.y)) if task == "classification" else 0,
        has_missing=data.has_missing,
        has_categorical=data.has_categorical,
        molecule_blocks=_molecule_blocks(data.column_roles, space.data),
    )
    info = {
        "version": 1,
        "task": task,
        "metric": objective.name,
        "direction": objective.direction,
        "seed": int(seed),
        "search_space": space.name,
        "space_fingerprint": space.fingerprint,
        "space": space.to_dict(),
        "cv": {**cv.to_dict(), "n_folds": len(splits), "grouped": data.groups is not None, "notes": cv_notes},
        "column_roles": data.column_roles,
        "notes": list(data.notes),
        "n_rows": int(len(data.y)),
        "data_fingerprint": _data_fingerprint(data.X, data.y),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }

    previous_level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    own_executor = False
    if isinstance(executor, str) or (executor is None and n_workers > 1):
        executor = make_executor(executor or "local", n_workers)
        own_executor = executor is not None
    bar = None
    in_flight: dict[cf.Future | None, Any] = {}  # None: the trial running in the driver
    try:
        study = _open_study(storage_url=storage_url, study_name=study_name, direction=objective.direction, info=info, n_warmup=n_warmup, seed=seed)
        _fail_stale(study, "interrupted: the search stopped before this trial finished")
        if not study.get_trials(deepcopy=False):
            for params in space.default_trials(ctx):
                study.enqueue_trial(params, user_attrs={"source": "default"})

        eval_kwargs = dict(task=task, cv_spec=splits, column_roles=data.column_roles, seed=seed, metric=objective.name)
        deadline = None if timeout_s is None else time.monotonic() + float(timeout_s)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_trials, desc=f"search {study_name}", unit="trial", dynamic_ncols=True)

        def finished(frozen: Any) -> None:
            if bar is not None:
                bar.update(1)
                try:
                    best = study.best_trial
                    bar.set_postfix_str(f"best {objective.name}={best.value:.4g} [{best.user_attrs.get('pipeline', '?')}] #{best.number}")
                except ValueError:
                    pass
            for callback in callbacks:
                callback(study, frozen)

        def ask() -> tuple[Any, dict[str, Any]]:
            study.sampler = _make_sampler(seed, len(study.get_trials(deepcopy=False)))
            trial = study.ask()
            trial.set_user_attr("source", trial.user_attrs.get("source", "sampler"))
            try:
                params = space.suggest(trial, ctx)
            except ValueError as err:
                study.tell(trial, state=TrialState.FAIL)
                raise SpecError(f"{space.source}: the space cannot be sampled in study {study_name!r} ({err}); start a new study") from err
            return trial, params

        n_started = 0

        def time_left() -> float | None:
            # the first pipeline always finishes: a search without one has nothing to refit
            if deadline is None or not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                return None
            return max(0.0, deadline - time.monotonic())

        def trial_cap() -> float | None:
            left = time_left()
            return None if left is None else TRIAL_SHARE_OF_TIME_LEFT * left

        def budget_left() -> bool:
            if n_trials is not None and n_started >= n_trials:
                return False
            return deadline is None or time.monotonic() < deadline

        if executor is None:
            while budget_left():
                trial, params = ask()
                n_started += 1

                def on_fold(step: int, value: float, trial: Any = trial) -> bool:
                    trial.report(value, step)
                    return trial.should_prune()

                in_flight[None] = (trial, params)
                result = evaluate_pipeline(params, data.X, data.y, on_fold=on_fold, time_limit_s=time_left(), max_trial_s=trial_cap(), **eval_kwargs)
                del in_flight[None]
                finished(_tell(study, trial, result, report=False))
        else:
            # the dataset goes to the workers once (Ray's object store), not once per trial
            put = getattr(executor, "put", None) or (lambda obj: obj)
            X_shared, y_shared = put(data.X), put(data.y)
            while budget_left() or in_flight:
                while budget_left() and len(in_flight) < n_workers:
                    trial, params = ask()
                    n_started += 1
                    rule = stop_rule(study, objective.direction, n_warmup)
                    future = executor.submit(evaluate_pipeline, params, X_shared, y_shared, on_fold=rule, time_limit_s=time_left(), max_trial_s=trial_cap(), **eval_kwargs)
                    in_flight[future] = (trial, params)
                done, _ = cf.wait([f for f in in_flight if f is not None], return_when=cf.FIRST_COMPLETED)
                for future in done:
                    trial, params = in_flight.pop(future)
                    try:
                        result = future.result()
                    except Exception as err:  # noqa: BLE001 - a worker crash (after the executor's retries) is this trial's failure
                        result = TrialResult(params=params, status=FAILED, metric=objective.name, value=None, fold_scores=(), n_folds=len(splits), failure_reason=f"worker error: {describe_failure(err)}")
                    finished(_tell(study, trial, result, report=True))
    except BaseException:
        for future, (trial, _) in in_flight.items():
            if future is not None:
                future.cancel()
            try:
                trial.set_user_attr("failure_reason", "interrupted: the search stopped before this trial finished")
                study.tell(trial, state=TrialState.FAIL)
            except Exception:  # noqa: BLE001, S110 - already told: nothing left to close
                pass
        # A trial asked but not yet in flight (or told halfway) is RUNNING too; one driver per study.
        _fail_stale(study, "interrupted: the search stopped before this trial finished")
        raise
    finally:
        if bar is not None:
            bar.close()
        if own_executor and executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)  # type: ignore[union-attr]
        optuna.logging.set_verbosity(previous_level)
    return study


def _molecule_blocks(column_roles: dict[str, str], space_data: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from planner.automl._molecules import molecule_blocks, representation_choices

    choices = representation_choices(space_data)
    return tuple((block, choices) for block in molecule_blocks(column_roles))
