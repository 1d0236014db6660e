"""Feature selectors and projections the pipeline space needs and scikit-learn lacks.

* :class:`CorrelationFilter` — drop features highly correlated with an earlier kept one.
* :class:`L1Selector` — keep the features an L1-penalized linear model uses.
* :class:`PLSTransformer` — project on PLS latent components.

Each follows the estimator contract (keyword-only ``__init__`` that only stores,
learned state in ``*_`` attributes, ``fit`` returns ``self``) so it can sit inside a
``Pipeline`` and be fitted per cross-validation fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from planner.exceptions import SpecError
from planner.validation import check_choice

__all__ = ["CorrelationFilter", "L1Selector", "PLSTransformer"]


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Drop features that are highly correlated with an earlier kept feature (decided on the training fold).

    A redundancy filter: features are visited left to right and a feature is dropped when its
    absolute Pearson or Spearman correlation with any already kept feature exceeds ``threshold``.
    Constant features are kept (their correlation is undefined), and so is a column with a
    missing value in the training fold (its correlations are undefined too; the imputer the
    search puts first leaves none).

    This is the filter the AutoML search's ``correlation`` selector builds, and the one pipeline
    step of its kind in planner (the quality report's :func:`planner.quality.correlated_pairs`
    lists correlated pairs without dropping anything).

    Args:
        method: ``"pearson"`` or ``"spearman"``.
        threshold: Absolute correlation above which a later feature is dropped, in ``(0, 1]``.

    Attributes:
        support_: ``(n_features,)`` True for kept columns.
        dropped_columns_: ``{column: "|r|=0.981 with 'other'"}`` for every dropped column.
    """

    def __init__(self, *, method: str = "pearson", threshold: float = 0.95) -> None:
        self.method = method
        self.threshold = threshold

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None) -> CorrelationFilter:
        check_choice(self.method, ("pearson", "spearman"), name="method", owner="CorrelationFilter")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not 0 < self.threshold <= 1:
            raise SpecError(f"CorrelationFilter: threshold must be in (0, 1], got {self.threshold!r}.")
        X = validate_data(self, X, ensure_all_finite="allow-nan")
        data = np.asarray(X, dtype=float)
        if self.method == "spearman":
            from scipy.stats import rankdata

            data = np.apply_along_axis(rankdata, 0, data)
        n_features = data.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(data, rowvar=False) if n_features > 1 else np.ones((1, 1))
        corr = np.nan_to_num(np.abs(np.atleast_2d(corr)), nan=0.0)
        names = _check_feature_names_in(self, None)
        keep: list[int] = []
        dropped: dict[str, str] = {}
        for j in range(n_features):
            worst = max(keep, key=lambda k: corr[j, k], default=None)
            if worst is None or corr[j, worst] <= self.threshold:
                keep.append(j)
            else:
                dropped[str(names[j])] = f"|r|={corr[j, worst]:.3f} with {str(names[worst])!r}"
        mask = np.zeros(n_features, dtype=bool)
        mask[keep] = True
        self.support_ = mask
        self.dropped_columns_ = dropped
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
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(f"L1Selector: y holds one class ({classes.tolist()}); classification needs two or more")
            if len(classes) > 2:
                # liblinear fits binary problems only: one-vs-rest, as it did itself before scikit-learn 1.8
                coef = np.vstack([clone(model).fit(X, y == c).coef_ for c in classes])
            else:
                coef = model.fit(X, y).coef_
        else:
            coef = Lasso(alpha=self.alpha, max_iter=5000, random_state=self.random_state).fit(X, y).coef_
        self.coef_ = np.abs(np.atleast_2d(coef)).sum(axis=0)
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
