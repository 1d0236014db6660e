"""Small scikit-learn estimators the pipeline space needs and scikit-learn lacks.

Each follows the estimator contract (keyword-only ``__init__`` that only stores,
learned state in ``*_`` attributes, ``fit`` returns ``self``) so it can sit inside a
``Pipeline`` and be fitted per cross-validation fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["CorrelationFilter", "L1Selector", "PLSTransformer", "EncodedLabelClassifier"]


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Drop features that are highly correlated with an earlier kept feature.

    A redundancy filter: features are visited left to right and a feature is dropped
    when its absolute Pearson or Spearman correlation with any already kept feature
    exceeds ``threshold``. Constant features are kept (their correlation is undefined).

    Args:
        method: ``"pearson"`` or ``"spearman"``.
        threshold: Absolute correlation above which a later feature is dropped, in ``(0, 1]``.
    """

    def __init__(self, *, method: str = "pearson", threshold: float = 0.95) -> None:
        self.method = method
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> CorrelationFilter:
        X = validate_data(self, X, ensure_all_finite="allow-nan")
        if self.method not in ("pearson", "spearman"):
            raise ValueError(f"CorrelationFilter.method must be 'pearson' or 'spearman', got {self.method!r}")
        data = np.asarray(X, dtype=float)
        if self.method == "spearman":
            from scipy.stats import rankdata

            data = np.apply_along_axis(rankdata, 0, data)
        n_features = data.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(data, rowvar=False) if n_features > 1 else np.ones((1, 1))
        corr = np.nan_to_num(np.abs(np.atleast_2d(corr)), nan=0.0)
        keep: list[int] = []
        for j in range(n_features):
            if all(corr[j, k] <= self.threshold for k in keep):
                keep.append(j)
        mask = np.zeros(n_features, dtype=bool)
        mask[keep] = True
        self.support_ = mask
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_


class L1Selector(SelectorMixin, BaseEstimator):
    """Keep the features an L1-penalized linear model gives non-zero weight.

    Lasso for regression, L1 logistic regression for classification. When the penalty
    zeroes every weight, the single feature with the highest univariate F-score is kept,
    so the model that follows always gets an input.

    Args:
        alpha: L1 penalty (``C = 1 / alpha`` for the logistic model), > 0.
        classification: Select for a classification target.
        random_state: Seed of the solver.
    """

    def __init__(self, *, alpha: float = 0.01, classification: bool = False, random_state: int | None = None) -> None:
        self.alpha = alpha
        self.classification = classification
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> L1Selector:
        from sklearn.feature_selection import f_classif, f_regression
        from sklearn.linear_model import Lasso, LogisticRegression

        X, y = validate_data(self, X, y)
        if not self.alpha > 0:
            raise ValueError(f"L1Selector.alpha must be > 0, got {self.alpha!r}")
        if self.classification:
            model = LogisticRegression(l1_ratio=1.0, C=1.0 / self.alpha, solver="liblinear", random_state=self.random_state)
        else:
            model = Lasso(alpha=self.alpha, max_iter=5000, random_state=self.random_state)
        self.coef_ = np.abs(np.atleast_2d(model.fit(X, y).coef_)).sum(axis=0)
        mask = self.coef_ > 1e-10
        if not mask.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                scores = (f_classif if self.classification else f_regression)(X, y)[0]
            mask[int(np.argmax(np.nan_to_num(scores, nan=-1.0)))] = True
        self.support_ = mask
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_


class PLSTransformer(TransformerMixin, BaseEstimator):
    """Project features on PLS latent components (supervised dimensionality reduction).

    ``PLSRegression.fit_transform`` returns ``(x_scores, y_scores)``, which breaks a
    ``Pipeline``; this wrapper returns the x scores only. ``n_components`` is clamped
    to the fold's rank so data-size-dependent bounds cannot crash a fold.

    Args:
        n_components: Wanted number of latent components.
    """

    def __init__(self, *, n_components: int = 2) -> None:
        self.n_components = n_components

    def fit(self, X: Any, y: Any = None) -> PLSTransformer:
        from sklearn.cross_decomposition import PLSRegression

        X = validate_data(self, X)
        if y is None:
            raise ValueError("PLSTransformer is supervised: fit(X, y) needs y")
        n_max = max(1, min(X.shape[0] - 1, X.shape[1]))
        self.n_components_ = int(max(1, min(self.n_components, n_max)))
        self.pls_ = PLSRegression(n_components=self.n_components_, scale=True).fit(X, np.asarray(y, dtype=float))
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "pls_")
        X = validate_data(self, X, reset=False)
        return self.pls_.transform(X)


class EncodedLabelClassifier(ClassifierMixin, BaseEstimator):
    """Fit a classifier on labels encoded as ``0..k-1`` and decode its predictions.

    XGBoost insists on integer labels; this keeps the saved pipeline a plain
    scikit-learn estimator that predicts the user's own labels.

    Args:
        estimator: The classifier to wrap (cloned on fit).
    """

    def __init__(self, *, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, **fit_params: Any) -> EncodedLabelClassifier:
        from sklearn.preprocessing import LabelEncoder

        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y), **fit_params)
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
