"""A classifier wrapper the search needs for libraries that insist on integer labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

__all__ = ["EncodedLabelClassifier"]


class EncodedLabelClassifier(ClassifierMixin, BaseEstimator):
    """Fit a classifier on labels encoded as ``0..k-1`` and decode its predictions.

    XGBoost insists on integer labels; this keeps the saved pipeline a plain
    scikit-learn estimator that predicts the user's own labels.

    Args:
        estimator: The classifier to wrap (cloned on fit).
    """

    def __init__(self, *, estimator: Any = None) -> None:
        self.estimator = estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = get_tags(self.estimator).input_tags
            tags.input_tags.sparse = inner.sparse
            tags.input_tags.allow_nan = inner.allow_nan
        return tags

    def fit(self, X: Any, y: Any, **fit_params: Any) -> EncodedLabelClassifier:
        from sklearn.preprocessing import LabelEncoder

        check_classification_targets(y)
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y), **fit_params)
        # the wrapped model validates X; its input description is this wrapper's
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, attr):
                setattr(self, attr, getattr(self.estimator_, attr))
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.encoder_.inverse_transform(np.asarray(self.estimator_.predict(X), dtype=int))

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @property
    def feature_importances_(self) -> np.ndarray:
        return self.estimator_.feature_importances_
