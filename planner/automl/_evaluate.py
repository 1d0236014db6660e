"""One trial: cross-validate one pipeline. A pure function, so any executor can run it."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from planner.automl._build import build_pipeline, describe_pipeline
from planner.automl._cv import CVSpec, Splits, make_splits
from planner.automl._data import infer_roles
from planner.automl._keys import (
    COMPLETE,
    FAILED,
    FAILURE_REASON_ATTR,
    FIDELITY_ATTR,
    FIT_TIME_ATTR,
    FOLD_METRICS_ATTR,
    FOLD_SCORES_ATTR,
    FUSION_KIND_ATTR,
    MEAN_ATTR,
    METRIC_ATTR,
    MODEL_FAMILY_ATTR,
    N_FOLDS_ATTR,
    OOF_ATTR,
    PARAMS_ATTR,
    PIPELINE_ATTR,
    PRUNED,
    SELECTED_FEATURES_ATTR,
    STATUS_ATTR,
    STD_ATTR,
    WARNINGS_ATTR,
)
from planner.automl._metrics import decide, get_metric, score_all
from planner.automl._pruning import FoldStopRule

__all__ = ["TrialResult", "evaluate_pipeline", "FoldStopRule", "COMPLETE", "PRUNED", "FAILED", "subsample_rows"]
_MAX_WARNINGS = 5
#: Out-of-fold predictions are stored on a trial (for ensemble selection) up to this many
#: numbers (rows x classes); larger tables keep the search storage small and skip them.
MAX_OOF_VALUES = 10_000


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _selected_features(model: Any) -> tuple[str, ...] | None:
    """Names of the features the selection step kept, on the first fold (``None`` if unknown).

    Stored on the trial so the report can count how often each feature survives among the
    top trials. Names are those after encoding (one-hot levels, Magpie descriptors).
    """
    try:
        steps = dict(getattr(model, "named_steps", {}))
        if "select" not in steps:
            return None
        names = model[: list(steps).index("select") + 1].get_feature_names_out()
        return tuple(str(n).split("__", 1)[-1] for n in names)
    except Exception:  # noqa: BLE001 - a selector without feature names must not fail the trial
        return None


@dataclass(frozen=True)
class TrialResult:
    """What evaluating one pipeline produced (picklable, JSON-friendly).

    Attributes:
        params: The pipeline spec that was evaluated.
        status: ``"complete"``, ``"pruned"`` (stopped early, hopeless) or ``"failed"``.
        metric: The objective metric's name.
        value: Mean objective over the folds run, or ``None`` when none finished.
        fold_scores: Objective per fold run, in fold order.
        fold_metrics: Every metric of the task per fold run.
        fit_time_s: Seconds spent fitting and predicting, all folds together.
        n_folds: Folds planned (``len(fold_scores)`` is smaller when pruned or failed).
        failure_reason: ``"<ErrorType>: <message> (fold i)"`` for failed trials; for
            trials stopped by the time budget, ``"TimeBudget: ..."``.
        warnings: Distinct warnings raised while fitting (first few).
        selected_features: Features the selection step kept on the first fold.
        oof: Out-of-fold predictions of a complete trial, one tuple per row averaged over
            the repeats: ``(value,)`` for regression, class probabilities in sorted class
            order for classification. ``None`` for pruned/failed trials, models without
            probabilities, or tables above :data:`MAX_OOF_VALUES`.
        fidelity: Share of the full evaluation's training work done: rows per fold used x
            folds run / folds planned (1.0: every fold on all its rows); scores at different
            fidelities are not compared as equals.
    """

    params: dict[str, Any]
    status: str
    metric: str
    value: float | None
    fold_scores: tuple[float, ...]
    fold_metrics: dict[str, tuple[float | None, ...]] = field(default_factory=dict)
    fit_time_s: float = 0.0
    n_folds: int = 0
    failure_reason: str | None = None
    warnings: tuple[str, ...] = ()
    selected_features: tuple[str, ...] | None = None
    oof: tuple[tuple[float, ...], ...] | None = None
    fidelity: float = 1.0

    @property
    def std(self) -> float | None:
        """Spread of the objective over folds (population std), ``None`` below 2 folds."""
        return float(np.std(self.fold_scores)) if len(self.fold_scores) > 1 else None

    def running_means(self) -> list[float]:
        """The intermediate values reported for pruning: mean of folds ``0..i``."""
        scores = np.asarray(self.fold_scores, dtype=float)
        return list(np.cumsum(scores) / np.arange(1, len(scores) + 1))

    def user_attrs(self) -> dict[str, Any]:
        """What a study stores on the trial (JSON-serializable)."""
        try:
            description = describe_pipeline(self.params)
            summary, family, fusion = description.summary, description.model_family, description.fusion_kind
        except Exception:  # a spec naming an unregistered component still gets recorded
            summary, family, fusion = "?", "?", "?"
        return {
            PARAMS_ATTR: dict(self.params),
            STATUS_ATTR: self.status,
            METRIC_ATTR: self.metric,
            FOLD_SCORES_ATTR: [_clean(s) for s in self.fold_scores],
            FOLD_METRICS_ATTR: {k: [_clean(v) for v in vals] for k, vals in self.fold_metrics.items()},
            MEAN_ATTR: _clean(self.value) if self.value is not None else None,
            STD_ATTR: self.std,
            FIT_TIME_ATTR: round(self.fit_time_s, 4),
            N_FOLDS_ATTR: self.n_folds,
            FAILURE_REASON_ATTR: self.failure_reason,
            WARNINGS_ATTR: list(self.warnings),
            SELECTED_FEATURES_ATTR: list(self.selected_features) if self.selected_features is not None else None,
            OOF_ATTR: [[float(f"{v:.7g}") for v in row] for row in self.oof] if self.oof is not None else None,
            PIPELINE_ATTR: summary,
            MODEL_FAMILY_ATTR: family,
            FUSION_KIND_ATTR: fusion,
            FIDELITY_ATTR: self.fidelity,
        }


def _predict(model: Any, X: pd.DataFrame, needs_proba: bool) -> tuple[np.ndarray, np.ndarray | None, Any]:
    y_pred = model.predict(X)
    proba = None
    classes = getattr(model, "classes_", None)
    if classes is not None and hasattr(model, "predict_proba"):
        try:
            proba = model.predict_proba(X)
        except (AttributeError, NotImplementedError):
            if needs_proba:
                raise
    return np.asarray(y_pred), proba, classes


def subsample_rows(train: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """At most ``max_rows`` of the training indices ``train`` (seeded, order kept)."""
    if max_rows is None or len(train) <= max_rows:
        return train
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(train, size=int(max_rows), replace=False))


def evaluate_pipeline(
    params: Mapping[str, Any],
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    task: str,
    cv_spec: CVSpec | Splits | None = None,
    groups: Sequence[Any] | np.ndarray | None = None,
    column_roles: Mapping[str, str] | None = None,
    seed: int = 0,
    metric: str | None = None,
    on_fold: Callable[[int, float], bool | str | None] | None = None,
    time_limit_s: float | None = None,
    max_trial_s: float | None = None,
    max_train_rows: int | None = None,
    max_folds: int | None = None,
) -> TrialResult:
    """Cross-validate one pipeline; never raises for a pipeline that fails to fit.

    Every data-dependent step is refitted inside each training fold. Errors while
    building, fitting or scoring end the trial as ``failed`` with the reason.

    Args:
        params: Pipeline spec (see :meth:`SearchSpace.suggest`).
        X: Features, `n x d` (columns named in ``column_roles``).
        y: Target, `n`.
        task: ``"regression"`` or ``"classification"``.
        cv_spec: A :class:`CVSpec`, or the explicit ``(train_idx, test_idx)`` splits
            (what the search driver passes, so all trials share folds).
        groups: Group label per row, used when ``cv_spec`` is a :class:`CVSpec`.
        column_roles: Role per column; inferred from dtypes when ``None``.
        seed: Seed for the splits and every randomized estimator.
        metric: Objective metric name; the task's default when ``None``.
        on_fold: Called after each fold with ``(fold_index, running_mean)``; returning
            a reason (text) or ``True`` stops the trial as ``pruned``.
        time_limit_s: Stop after the fold during which this many seconds passed (status
            ``pruned``, with the reason); bounds how far a search overshoots its budget.
        max_trial_s: Stop (``pruned``, with the reason) as soon as the folds run so far
            project the whole trial past this many seconds: an expensive pipeline costs
            one fold, not the search's whole budget.
        max_train_rows: Fit each fold on at most this many of its training rows (a lower
            fidelity for large tables; test folds stay whole). ``None``: all rows.
        max_folds: Run only the first this many folds (a lower fidelity); ``None``: all.

    Returns:
        The :class:`TrialResult`.
    """
    objective = get_metric(metric, task)
    params = dict(params)
    X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.asarray(X).shape[1])])
    y_arr = np.asarray(y)
    if isinstance(cv_spec, CVSpec) or cv_spec is None:
        splits, _ = make_splits(y_arr, task=task, cv_spec=cv_spec, groups=groups, seed=seed)
    else:
        splits = list(cv_spec)
    n_planned = len(splits)
    if max_folds is not None and max_folds < len(splits):
        splits = splits[: max(1, int(max_folds))]
    roles = dict(column_roles) if column_roles is not None else infer_roles(X)
    classes_all = np.unique(y_arr) if task == "classification" else None
    width = 1 if classes_all is None else len(classes_all)
    keep_oof = len(y_arr) * width <= MAX_OOF_VALUES
    oof_sum = np.zeros((len(y_arr), width)) if keep_oof else None
    oof_count = np.zeros(len(y_arr))

    fold_scores: list[float] = []
    fold_metrics: dict[str, list[float | None]] = {}
    selected: tuple[str, ...] | None = None
    fit_time = 0.0
    status, reason = COMPLETE, None
    seen_warnings: list[str] = []
    started = time.perf_counter()
    n_train_all = n_train_used = 0
    for i, (train_all, test) in enumerate(splits):
        train = subsample_rows(train_all, max_train_rows, seed + i)
        n_train_all += len(train_all)
        n_train_used += len(train)
        # one thread per trial: estimators already run with n_jobs=1, and OpenMP/BLAS pools
        # oversubscribe the cores when several trials (or other work) run side by side
        with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=1):
            warnings.simplefilter("always")
            start = time.perf_counter()
            try:
                model = build_pipeline(params, task=task, column_roles=roles, seed=seed)
                model.fit(X.iloc[train], y_arr[train])
                if i == 0:
                    selected = _selected_features(model)
                y_pred, proba, classes = _predict(model, X.iloc[test], objective.needs == "proba")
                y_pred = decide(objective.name, y_pred, proba, classes, y_arr[train])
                scores = score_all(task, y_arr[test], y_pred, proba, classes)
                if oof_sum is not None:
                    if classes_all is None:
                        oof_sum[test, 0] += np.asarray(y_pred, dtype=float)
                    elif proba is not None and classes is not None:
                        cols = np.searchsorted(classes_all, np.asarray(classes))
                        oof_sum[np.ix_(test, cols)] += proba
                    else:
                        oof_sum = None
                    oof_count[test] += 1
            except Exception as err:  # noqa: BLE001 - a failing pipeline is a result, not a crash
                fit_time += time.perf_counter() - start
                status, reason = FAILED, f"{type(err).__name__}: {err} (fold {i})"
                break
            fit_time += time.perf_counter() - start
        for w in caught:
            text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
            if text not in seen_warnings and len(seen_warnings) < _MAX_WARNINGS:
                seen_warnings.append(text)
        value = scores[objective.name]
        if not math.isfinite(value):
            status, reason = FAILED, f"MetricUndefined: {objective.name} is undefined on fold {i} (e.g. one class in the test fold)"
            break
        fold_scores.append(value)
        for name, v in scores.items():
            fold_metrics.setdefault(name, []).append(_clean(v))
        if i == len(splits) - 1:
            break
        verdict = on_fold(i, float(np.mean(fold_scores))) if on_fold is not None else None
        if verdict:
            status = PRUNED
            reason = verdict if isinstance(verdict, str) else (
                f"Pruned: mean score {np.mean(fold_scores):.4g} after {i + 1} fold(s) is worse than most earlier trials at that fold"
            )
            break
        elapsed = time.perf_counter() - started
        if time_limit_s is not None and elapsed > time_limit_s:
            status, reason = PRUNED, f"TimeBudget: the search's time budget ran out after fold {i}"
            break
        projected = elapsed / (i + 1) * len(splits)
        if max_trial_s is not None and projected > max_trial_s:
            status = PRUNED
            reason = f"TimeBudget: {len(splits)} folds would take about {projected:.1f} s, more than the {max_trial_s:.1f} s a trial may use of the time left (stopped after fold {i})"
            break
    value = float(np.mean(fold_scores)) if fold_scores and status != FAILED else None
    oof = None
    if status == COMPLETE and oof_sum is not None and np.all(oof_count > 0) and np.all(np.isfinite(oof_sum)):
        oof = tuple(tuple(float(v) for v in row) for row in oof_sum / oof_count[:, None])
    return TrialResult(
        params=params,
        status=status,
        metric=objective.name,
        value=value,
        fold_scores=tuple(fold_scores),
        fold_metrics={k: tuple(v) for k, v in fold_metrics.items()},
        selected_features=selected,
        oof=oof,
        fit_time_s=fit_time,
        n_folds=len(splits),
        failure_reason=reason,
        warnings=tuple(seen_warnings),
        fidelity=round(n_train_used / n_train_all * len(splits) / n_planned, 4) if n_train_all else 1.0,
    )
