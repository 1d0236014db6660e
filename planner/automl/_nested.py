"""Nested cross-validation: the honest estimate of the whole search procedure.

The whole search (every trial, the choice of the best pipeline, its refit) runs inside
each outer training fold; the outer test fold is touched once, to score the pipeline
that search chose. The mean over outer folds estimates how well *searching* works on
this kind of data, not how good the best inner score looked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.automl._cv import CVSpec, Splits, make_splits
from planner.automl._data import prepare_data
from planner.automl._metrics import decide, get_metric, score_all
from planner.automl._space import SearchSpace, load_search_space

__all__ = ["NestedCVResult", "OuterFold", "nested_cv"]


@dataclass(frozen=True)
class OuterFold:
    """One outer fold of a nested CV.

    Attributes:
        index: Outer fold number.
        n_train: Rows the inner search saw.
        n_test: Rows scored.
        score: Objective metric on the outer test rows.
        metrics: Every metric of the task on the outer test rows.
        trial: Number of the chosen inner trial.
        pipeline: Summary of the chosen pipeline.
        inner_score: Its inner CV mean (optimistic by construction).
        n_trials: Inner trials that finished (complete, pruned or failed).
        search_s: Seconds the inner search took.
        params: The chosen pipeline spec.
    """

    index: int
    n_train: int
    n_test: int
    score: float
    metrics: dict[str, float]
    trial: int
    pipeline: str
    inner_score: float
    n_trials: int
    search_s: float
    params: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class NestedCVResult:
    """Outer-fold scores of a nested CV.

    Attributes:
        metric: Objective metric name.
        folds: One :class:`OuterFold` per outer fold.
    """

    metric: str
    folds: tuple[OuterFold, ...]

    @property
    def scores(self) -> np.ndarray:
        return np.array([f.score for f in self.folds])

    @property
    def mean(self) -> float:
        return float(self.scores.mean())

    @property
    def std(self) -> float:
        return float(self.scores.std())

    def to_frame(self) -> pd.DataFrame:
        """One row per outer fold: score, every metric, the chosen pipeline, inner score."""
        rows = []
        for f in self.folds:
            rows.append(
                {
                    "outer_fold": f.index,
                    "n_train": f.n_train,
                    "n_test": f.n_test,
                    self.metric: f.score,
                    **{f"test_{k}": v for k, v in f.metrics.items()},
                    "inner_" + self.metric: f.inner_score,
                    "trial": f.trial,
                    "n_trials": f.n_trials,
                    "search_s": round(f.search_s, 1),
                    "pipeline": f.pipeline,
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        return f"nested CV {self.metric}: {self.mean:.4g} ± {self.std:.2g} over {len(self.folds)} outer folds"


def nested_cv(
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    task: str,
    search_space: str | SearchSpace = "default",
    outer_cv: CVSpec | Splits | None = None,
    cv_spec: CVSpec | None = None,
    n_trials: int | None = 20,
    timeout_s: float | None = None,
    seed: int = 0,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    column_roles: Mapping[str, str] | None = None,
    metric: str | None = None,
    storage_url: str | Any | None = None,
    study_name: str = "nested",
    n_workers: int = 1,
    executor: Any = None,
    on_outer_fold: Callable[[OuterFold], None] | None = None,
    ensemble: bool = False,
) -> NestedCVResult:
    """Estimate the whole search procedure by nested cross-validation.

    Args:
        X: Features, `n x d`.
        y: Target, `n`.
        task: ``"regression"`` or ``"classification"``.
        search_space: Bundled name, file path or :class:`SearchSpace`.
        outer_cv: Outer folds: a :class:`CVSpec` (default 5 folds, 1 repeat; grouped when
            ``groups`` is given) or explicit ``(train_idx, test_idx)`` splits.
        cv_spec: Inner CV of each search (default: the space's).
        n_trials: Inner trials per outer fold (``None``: until ``timeout_s``).
        timeout_s: Wall-clock budget of each inner search.
        seed: Seed of the outer folds and of every inner search.
        groups: Group label per row; used by the outer and the inner folds.
        column_roles: Role per column (inferred if ``None``).
        metric: Objective metric (task default if ``None``).
        storage_url: Optuna storage for the inner studies (``<study_name>-outer<k>``);
            in memory when ``None``. With a file storage a re-run resumes each outer
            fold's study and only tops it up to ``n_trials``.
        study_name: Prefix of the inner studies' names.
        n_workers: Trials evaluated at once in each inner search.
        executor: As for :func:`~planner.automl.run_search`.
        on_outer_fold: Called with each finished :class:`OuterFold` (progress reporting).
        ensemble: Score the ensemble that ensemble selection builds from each inner
            search (see :func:`~planner.automl.refit`) instead of its single best trial.

    Returns:
        The :class:`NestedCVResult` (``mean``, ``std``, ``to_frame()``).

    Raises:
        SpecError: Bad budget, space, metric or task.
        DataValidationError: Unusable data.
    """
    import optuna

    from planner.automl._refit import refit
    from planner.automl._search import run_search

    objective = get_metric(metric, task)
    space = load_search_space(search_space)
    data = prepare_data(X, y, task=task, column_roles=column_roles, groups=groups)
    if outer_cv is None or isinstance(outer_cv, CVSpec):
        outer = outer_cv or CVSpec(n_splits=5, n_repeats=1)
        splits, _ = make_splits(data.y, task=task, cv_spec=outer, groups=data.groups, seed=seed)
    else:
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in outer_cv]

    folds = []
    for k, (train, test) in enumerate(splits):
        storage = storage_url if storage_url is not None else optuna.storages.InMemoryStorage()
        name = f"{study_name}-outer{k}"
        todo = n_trials
        if storage_url is not None and n_trials is not None:
            try:
                done = len(optuna.load_study(study_name=name, storage=storage_url).trials)
            except KeyError:
                done = 0
            todo = n_trials - done
        start = time.perf_counter()
        X_train, y_train = data.X.iloc[train].reset_index(drop=True), data.y[train]
        g_train = None if data.groups is None else data.groups[train]
        if todo is None or todo > 0:
            study = run_search(
                X_train, y_train, task=task, search_space=space, storage_url=storage, study_name=name,
                n_trials=todo, timeout_s=timeout_s, seed=seed, cv_spec=cv_spec, groups=g_train,
                column_roles=data.column_roles, metric=objective.name, n_workers=n_workers, executor=executor,
            )
        else:
            study = optuna.load_study(study_name=name, storage=storage_url)
        search_s = time.perf_counter() - start
        fitted = refit(study, X_train, y_train, ensemble=ensemble)
        X_test = data.X.iloc[test]
        y_pred = fitted.estimator.predict(X_test)
        proba = fitted.estimator.predict_proba(X_test) if task == "classification" and hasattr(fitted.estimator, "predict_proba") else None
        classes = getattr(fitted.estimator, "classes_", None)
        y_pred = decide(objective.name, np.asarray(y_pred), proba, classes, y_train)
        metrics = score_all(task, data.y[test], np.asarray(y_pred), proba, classes)
        fold = OuterFold(
            index=k,
            n_train=len(train),
            n_test=len(test),
            score=metrics[objective.name],
            metrics=metrics,
            trial=fitted.spec["trial"],
            pipeline=fitted.spec["pipeline"],
            inner_score=float(study.best_value),
            n_trials=len(study.trials),
            search_s=search_s,
            params=fitted.spec["params"],
        )
        folds.append(fold)
        if on_outer_fold is not None:
            on_outer_fold(fold)
    return NestedCVResult(metric=objective.name, folds=tuple(folds))
