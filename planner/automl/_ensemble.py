"""Ensemble selection over a finished search (Caruana et al., ICML 2004).

Picking the single best of N cross-validated pipelines on a small table selects noise
as much as skill. Ensemble selection instead averages several good pipelines: starting
from the best, it greedily adds (with replacement) the trial whose out-of-fold
predictions most improve the pooled out-of-fold objective, and keeps the best prefix.
The weights are the pick counts. Every trial's out-of-fold predictions come from the
same splits (all trials of a study share folds), so they are comparable row by row.

Selection looks at out-of-fold predictions only: it never sees a row the trials were
trained on. Its own score on those predictions is still optimistic (the weights were
chosen on them); :func:`~planner.automl.nested_cv` gives the honest estimate.

The chosen ensemble is a pipeline spec of its own (``{"kind": "ensemble", ...}``), so it
refits, saves as JSON + joblib and rebuilds like any single pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from planner.automl._build import ENSEMBLE_KIND, build_pipeline, is_ensemble
from planner.automl._metrics import get_metric, score_all
from planner.exceptions import SpecError

__all__ = ["EnsembleSelection", "select_ensemble", "ensemble_params", "PipelineEnsembleRegressor", "PipelineEnsembleClassifier", "is_ensemble"]

@dataclass(frozen=True)
class EnsembleSelection:
    """What ensemble selection chose.

    Attributes:
        trials: Trial numbers of the members (distinct), largest weight first.
        weights: Their weights (pick counts over picks; sum to 1).
        metric: The objective metric.
        score: Objective of the weighted out-of-fold predictions (optimistic).
        best_single_score: The same for the best single candidate, for comparison.
        n_candidates: Trials the selection chose from.
        n_rounds: Greedy rounds kept (picks, with repetition).
    """

    trials: tuple[int, ...]
    weights: tuple[float, ...]
    metric: str
    score: float
    best_single_score: float
    n_candidates: int
    n_rounds: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "trials": list(self.trials),
            "weights": [round(w, 6) for w in self.weights],
            "metric": self.metric,
            "oof_score": self.score,
            "best_single_oof_score": self.best_single_score,
            "n_candidates": self.n_candidates,
            "n_rounds": self.n_rounds,
        }


def _oof_score(task: str, metric: Any, y: np.ndarray, P: np.ndarray, classes: np.ndarray | None) -> float:
    """Objective of out-of-fold predictions ``P`` (values, or class probabilities)."""
    if task == "regression":
        return score_all(task, y, P[:, 0], None, None)[metric.name]
    proba = P / np.clip(P.sum(axis=1, keepdims=True), 1e-12, None)
    labels = classes[np.argmax(proba, axis=1)]
    return score_all(task, y, labels, proba, classes)[metric.name]


def select_ensemble(
    study: Any,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    max_candidates: int = 20,
    n_rounds: int = 25,
) -> EnsembleSelection | None:
    """Greedy ensemble selection with replacement over a study's best trials.

    Args:
        study: A study from :func:`~planner.automl.run_search` (its trials store
            out-of-fold predictions).
        y: The target the study was searched on, in its row order.
        max_candidates: Consider the best this many complete trials (by CV mean).
        n_rounds: Greedy picks; the best-scoring prefix is kept.

    Returns:
        The :class:`EnsembleSelection`, or ``None`` when fewer than two complete trials
        have out-of-fold predictions (tables above the storage limit, models without
        class probabilities) or the rows do not match ``y``.
    """
    from optuna.trial import TrialState

    from planner.automl._search import study_info

    info = study_info(study)
    task, metric = info["task"], get_metric(info["metric"], info["task"])
    y_arr = np.asarray(y)
    sign = 1.0 if metric.direction == "maximize" else -1.0
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.user_attrs.get("oof") is not None and t.value is not None]
    done = [t for t in done if len(t.user_attrs["oof"]) == len(y_arr)]
    done.sort(key=lambda t: (-sign * t.value, t.number))
    # identical pipelines (defaults re-enqueued, a sampler repeat) add nothing: keep the first
    seen: set[str] = set()
    candidates = []
    for t in done:
        key = repr(sorted(t.user_attrs["params"].items()))
        if key not in seen:
            seen.add(key)
            candidates.append(t)
        if len(candidates) >= max_candidates:
            break
    if len(candidates) < 2:
        return None
    classes = np.unique(y_arr) if task == "classification" else None
    preds = [np.asarray(t.user_attrs["oof"], dtype=float) for t in candidates]
    singles = [sign * _oof_score(task, metric, y_arr, P, classes) for P in preds]
    total = np.zeros_like(preds[0])
    picks: list[int] = []
    history: list[float] = []
    for _ in range(max(1, int(n_rounds))):
        k = len(picks) + 1
        gains = [sign * _oof_score(task, metric, y_arr, (total + P) / k, classes) for P in preds]
        j = int(np.argmax(gains))  # ties: the better-ranked candidate
        picks.append(j)
        total += preds[j]
        history.append(gains[j])
    best_len = int(np.argmax(history)) + 1
    counts = np.bincount(picks[:best_len], minlength=len(candidates))
    order = [j for j in np.argsort(-counts, kind="stable") if counts[j] > 0]
    return EnsembleSelection(
        trials=tuple(int(candidates[j].number) for j in order),
        weights=tuple(float(counts[j] / best_len) for j in order),
        metric=metric.name,
        score=float(sign * history[best_len - 1]),
        best_single_score=float(sign * max(singles)),
        n_candidates=len(candidates),
        n_rounds=best_len,
    )


def ensemble_params(study: Any, selection: EnsembleSelection) -> dict[str, Any]:
    """The pipeline spec of a selected ensemble: the members' specs and weights."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    return {
        "kind": ENSEMBLE_KIND,
        "members": [dict(trials[n].user_attrs["params"]) for n in selection.trials],
        "weights": list(selection.weights),
        "trials": list(selection.trials),
    }


def build_ensemble(params: Mapping[str, Any], *, task: str, column_roles: Mapping[str, str], seed: int = 0) -> Any:
    """The unfitted estimator of an ensemble spec (see :func:`ensemble_params`)."""
    members, weights = params.get("members"), params.get("weights")
    if not members or not isinstance(members, list) or not isinstance(weights, list) or len(weights) != len(members):
        raise SpecError("an ensemble spec needs 'members' (pipeline specs) and as many 'weights'")
    cls = PipelineEnsembleClassifier if task == "classification" else PipelineEnsembleRegressor
    return cls(members=[dict(m) for m in members], weights=[float(w) for w in weights], column_roles=dict(column_roles), seed=int(seed))


class _PipelineEnsemble(BaseEstimator):
    """Weighted average of whole planner pipelines, each refitted on the same rows."""

    _task = "regression"

    def __init__(self, *, members: list[dict[str, Any]], weights: list[float], column_roles: dict[str, str], seed: int = 0) -> None:
        self.members = members
        self.weights = weights
        self.column_roles = column_roles
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any) -> _PipelineEnsemble:
        w = np.asarray(self.weights, dtype=float)
        if len(w) != len(self.members) or not len(w) or np.any(w < 0) or w.sum() <= 0:
            raise SpecError(f"ensemble weights {self.weights} must be non-negative, one per member, not all zero")
        self.weights_ = w / w.sum()
        self.estimators_ = [build_pipeline(m, task=self._task, column_roles=self.column_roles, seed=self.seed).fit(X, y) for m in self.members]
        self.n_features_in_ = X.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _frame(self, X: Any) -> pd.DataFrame:
        """``X`` as the training columns (explainers pass plain arrays)."""
        check_is_fitted(self, "estimators_")
        if isinstance(X, pd.DataFrame) or not hasattr(self, "feature_names_in_"):
            return X
        frame = pd.DataFrame(np.asarray(X), columns=list(self.feature_names_in_))
        numeric = [c for c, r in self.column_roles.items() if r == "numeric" and c in frame.columns]
        frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce")
        return frame


class PipelineEnsembleRegressor(RegressorMixin, _PipelineEnsemble):
    """Weighted mean of the members' predictions."""

    _task = "regression"

    def member_predictions(self, X: pd.DataFrame) -> np.ndarray:
        """``n x members`` predictions."""
        X = self._frame(X)
        return np.column_stack([np.asarray(e.predict(X), dtype=float) for e in self.estimators_])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.member_predictions(X) @ self.weights_

    def predict_std(self, X: pd.DataFrame) -> np.ndarray:
        """Weighted spread of the members' predictions: disagreement, not a calibrated interval."""
        M = self.member_predictions(X)
        mean = M @ self.weights_
        return np.sqrt(np.clip(((M - mean[:, None]) ** 2) @ self.weights_, 0.0, None))


class PipelineEnsembleClassifier(ClassifierMixin, _PipelineEnsemble):
    """Weighted mean of the members' class probabilities (soft voting)."""

    _task = "classification"

    def fit(self, X: pd.DataFrame, y: Any) -> PipelineEnsembleClassifier:
        super().fit(X, y)
        self.classes_ = np.unique(np.asarray(y))
        for e in self.estimators_:
            if not hasattr(e, "predict_proba"):
                raise SpecError("every member of a classification ensemble needs predict_proba")
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = self._frame(X)
        out = np.zeros((len(X), len(self.classes_)))
        for w, e in zip(self.weights_, self.estimators_, strict=True):
            cols = np.searchsorted(self.classes_, np.asarray(e.classes_))
            out[:, cols] += w * e.predict_proba(X)
        return out / np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
