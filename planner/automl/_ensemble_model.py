"""Estimators that average whole planner pipelines (what ensemble selection saves).

Kept apart from the selection itself (:mod:`planner.automl._ensemble`) so that building a
pipeline never needs the search's modules: members are built by
:func:`~planner.automl._single.build_single_pipeline`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from planner.automl._single import build_single_pipeline
from planner.exceptions import SpecError

__all__ = ["build_ensemble", "PipelineEnsembleRegressor", "PipelineEnsembleClassifier"]


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
        self.estimators_ = [build_single_pipeline(m, task=self._task, column_roles=self.column_roles, seed=self.seed).fit(X, y) for m in self.members]
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
