"""The search driver: an Optuna study over whole pipelines, via ask/tell.

Only this driver talks to the study. Trials are evaluated by
:func:`~planner.automl.evaluate_pipeline`, in the driver or on an executor's workers,
and their results told back. The study lives in the caller's storage (the campaign's
``sqlite:///.../optuna.db``), so calling :func:`run_search` again continues it.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.automl._cv import CVSpec, make_splits
from planner.automl._data import memory_row_cap, prepare_data, subsample_data
from planner.automl._driver import MIN_TIMEOUT_S, TRIAL_SHARE_OF_TIME_LEFT, SearchDriver, order_by_cost
from planner.automl._executors import TrialExecutor, make_executor
from planner.automl._keys import FAILED, SOURCE_ATTR, SOURCE_DEFAULT, STUDY_ATTR, study_info
from planner.automl._metrics import get_metric
from planner.automl._pruning import make_pruner
from planner.automl._space import SearchSpace, SpaceContext, load_search_space
from planner.exceptions import PlannerWarning, SpecError

if TYPE_CHECKING:
    import optuna

__all__ = ["run_search", "STUDY_ATTR", "study_info", "TRIAL_SHARE_OF_TIME_LEFT"]


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


def _check_budget(n_trials: int | None, timeout_s: float | None, n_workers: int) -> None:
    if n_trials is None and timeout_s is None:
        raise SpecError("the search needs a budget: set n_trials (e.g. 50) or timeout_s (e.g. 600), or both")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise SpecError(f"n_trials must be an integer >= 1, got {n_trials!r}; a budget of 0 runs nothing - use e.g. --trials 20")
    if timeout_s is not None and (not isinstance(timeout_s, int | float) or isinstance(timeout_s, bool) or not timeout_s > 0):
        raise SpecError(f"timeout_s must be a number of seconds > 0, got {timeout_s!r}; use e.g. --timeout 600")
    if timeout_s is not None and timeout_s < MIN_TIMEOUT_S:
        raise SpecError(
            f"a time budget of {timeout_s:g} s is too small for one cheap trial (starting a worker, one cross-validation "
            f"and a refit); the smallest useful budget is {MIN_TIMEOUT_S:g} s, a few hundred rows need about 15 s: use e.g. --timeout 60"
        )
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise SpecError(f"n_workers must be an integer >= 1, got {n_workers!r}")


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

    from planner.io import enable_sqlite_wal

    enable_sqlite_wal()  # ~40 commits a trial: without a sync each on local disks
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
    reserve_refit: bool = False,
    feature_cache: str | Path | None = None,
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
        timeout_s: Seconds for this call. With the local executor and one worker, trials run
            in a worker process that is killed at each trial's deadline (at most a quarter
            of the time left once a trial completed), so the call ends on time; the
            cheapest defaults run first. A budget too small for one cheap trial raises.
        seed: Seeds the sampler, the folds and every estimator: same inputs and seed, same trials.
        cv_spec: K and repeats; unset fields come from the space's ``cv`` section.
        groups: Group label per row (grouped CV: a group never straddles train and test).
        column_roles: ``{column: numeric|categorical|composition|ignore}``; inferred if ``None``.
        metric: Objective (``mae``, ``rmse``, ``r2``, ``accuracy``, ``precision``,
            ``recall``, ``f1``, ``roc_auc``, ``log_loss``, ``balanced_accuracy``); default MAE / ROC-AUC.
        n_workers: Trials evaluated at once.
        executor: ``None``/``"local"`` (in the driver, or a process pool when
            ``n_workers > 1``), ``"process"``, ``"ray"``, or any object with
            ``submit(fn, *args, **kwargs) -> Future``.
        callbacks: Called as ``callback(study, frozen_trial)`` after each finished trial.
        progress: Show a progress bar with the best value so far (stderr).
        reserve_refit: With ``timeout_s``: stop early enough that refitting the best
            pipeline (cost predicted from its folds) also fits in ``timeout_s``.
        feature_cache: Folder where row-wise representations (composition descriptors)
            are saved and reused across calls; ``None``: kept in memory only.

    Returns:
        The ``optuna.Study`` (its storage holds every trial).

    Raises:
        SpecError: No budget, a budget too small for one cheap trial (the message names
            the smallest useful one), bad space / metric / task, or a study that was
            started with another task, metric, seed or space.
        DataValidationError: Unusable data (one-valued target, too few rows, a class of
            one member...).
    """
    import optuna

    started = time.monotonic()
    _check_budget(n_trials, timeout_s, n_workers)
    space = load_search_space(search_space)
    space.check_task(task)
    objective = get_metric(metric, task)
    data = prepare_data(X, y, task=task, column_roles=column_roles, groups=groups)
    cap = memory_row_cap(data)
    if cap is not None:
        data = subsample_data(data, cap, seed=seed)
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
        composition_columns=tuple(c for c, r in data.column_roles.items() if r == "composition"),
        molecule_blocks=_molecule_blocks(data.column_roles, space.data),
    )
    _precompute_representations(data, space, ctx, feature_cache)
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
        "gated": space.gated(ctx),
        "row_cap": cap,
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
    driver = None
    study = None
    try:
        study = _open_study(storage_url=storage_url, study_name=study_name, direction=objective.direction, info=info, n_warmup=n_warmup, seed=seed)
        _fail_stale(study, "interrupted: the search stopped before this trial finished")
        if not study.get_trials(deepcopy=False):
            for params in order_by_cost(space.default_trials(ctx), space, ctx):
                study.enqueue_trial(params, user_attrs={SOURCE_ATTR: SOURCE_DEFAULT})
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_trials, desc=f"search {study_name}", unit="trial", dynamic_ncols=True)
        driver = SearchDriver(
            study=study,
            space=space,
            ctx=ctx,
            X=data.X,
            y=data.y,
            splits=splits,
            objective=objective,
            seed=seed,
            n_trials=n_trials,
            timeout_s=timeout_s,
            reserve_refit=reserve_refit,
            n_workers=n_workers,
            executor=executor,
            eval_kwargs=dict(task=task, cv_spec=splits, column_roles=data.column_roles, seed=seed, metric=objective.name),
            make_sampler=lambda n_existing: _make_sampler(seed, n_existing),
            callbacks=callbacks,
            bar=bar,
            started=started,
        )
        driver.run()
    except BaseException:
        if driver is not None:
            try:
                driver.abort()
            except Exception:  # noqa: BLE001, S110 - a trial already told: _fail_stale closes the rest
                pass
        # A trial asked but not yet in flight (or told halfway) is RUNNING too; one driver per study.
        if study is not None:
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


def _precompute_representations(data: Any, space: SearchSpace, ctx: SpaceContext, cache: str | Path | None) -> None:
    """Compute every representation the space may pick, once per dataset (no learned state)."""
    from planner.automl._representations import check_representation, load_cache, precompute, save_cache

    for col in ctx.composition_columns:
        families = sorted({f for rep in space.representation_choices("composition") for f in check_representation("composition", rep)})
        values = list(data.X[col].to_numpy(dtype=object))
        found = load_cache(cache, values, "composition", families) if cache is not None else []
        missing = [f for f in families if f not in found]
        precompute(values, "composition", missing)
        if cache is not None and missing:
            try:
                save_cache(cache, values, "composition", missing)
            except OSError as err:
                warnings.warn(f"could not save the representation cache in {cache} ({err}); it is recomputed next time", PlannerWarning, stacklevel=3)
