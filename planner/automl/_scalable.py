"""Size-aware stand-ins for the kernel models the size gate removes on large tables.

An exact GP, kernel ridge and kernel SVMs cost O(n^2) memory and O(n^2)-O(n^3) time, so
:mod:`planner.automl._gating` stops offering them above a row limit. These estimators
keep a kernel model in the search at a cost linear in n:

* :class:`NystroemRegressor` / :class:`NystroemClassifier`: RBF kernel features from the
  Nystroem approximation (``n_components`` landmark rows drawn at random), followed by a
  ridge, a linear epsilon-SVR or a logistic regression. Cost O(n m^2) for m components.
* :class:`SubsetGPRegressor`: the exact GP (same kernel as the ``gp`` component) fitted
  on a seeded random subset of ``n_subset`` rows (the "subset of data" approximation);
  cost O(m^3), independent of n once n > m. It keeps a predictive standard deviation.

The RBF width is relative: ``gamma`` multiplies scikit-learn's ``"scale"`` width
``1 / (n_features * X.var())``, so one range suits any scaling and width of the features.
Regression targets are standardized inside, so ridge ``alpha`` and SVR ``epsilon`` do
not depend on the target's units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["NystroemRegressor", "NystroemClassifier", "SubsetGPRegressor"]


def _nystroem(X: np.ndarray, n_components: int, gamma: float, seed: Any) -> Any:
    from sklearn.kernel_approximation import Nystroem

    var = float(X.var()) if X.size else 0.0
    width = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
    return Nystroem(kernel="rbf", gamma=float(gamma) * width, n_components=int(max(1, min(n_components, X.shape[0]))), random_state=seed).fit(X)


class NystroemRegressor(RegressorMixin, BaseEstimator):
    """RBF kernel regression on Nystroem features: ridge (``learner="ridge"``) or linear SVR (``"svr"``).

    Args:
        learner: ``"ridge"`` or ``"svr"``.
        n_components: Landmark rows of the kernel approximation (capped at the rows given).
        gamma: RBF width, relative to ``1 / (n_features * X.var())``.
        alpha: Ridge penalty (``learner="ridge"``).
        C: SVR inverse penalty (``learner="svr"``).
        epsilon: SVR insensitive band, in standardized target units.
        random_state: Seed of the landmark draw.
    """

    def __init__(self, learner: str = "ridge", n_components: int = 300, gamma: float = 1.0, alpha: float = 1.0, C: float = 1.0, epsilon: float = 0.1, random_state: Any = None) -> None:
        self.learner = learner
        self.n_components = n_components
        self.gamma = gamma
        self.alpha = alpha
        self.C = C
        self.epsilon = epsilon
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> NystroemRegressor:
        from sklearn.linear_model import Ridge
        from sklearn.svm import LinearSVR

        if self.learner not in ("ridge", "svr"):
            raise ValueError(f"learner must be 'ridge' or 'svr', got {self.learner!r}")
        X, y = validate_data(self, X, y, y_numeric=True)
        y = np.asarray(y, dtype=float)
        self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std()) or 1.0
        self.features_ = _nystroem(X, self.n_components, self.gamma, self.random_state)
        Z = self.features_.transform(X)
        if self.learner == "ridge":
            self.model_ = Ridge(alpha=float(self.alpha))
        else:
            self.model_ = LinearSVR(C=float(self.C), epsilon=float(self.epsilon), max_iter=5000, dual="auto", random_state=self.random_state)
        self.model_.fit(Z, (y - self.y_mean_) / self.y_scale_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False)
        return self.model_.predict(self.features_.transform(X)) * self.y_scale_ + self.y_mean_


class NystroemClassifier(ClassifierMixin, BaseEstimator):
    """RBF kernel logistic regression on Nystroem features (probabilities for every class).

    Args:
        n_components: Landmark rows of the kernel approximation (capped at the rows given).
        gamma: RBF width, relative to ``1 / (n_features * X.var())``.
        C: Inverse L2 penalty of the logistic regression.
        random_state: Seed of the landmark draw.
    """

    def __init__(self, n_components: int = 300, gamma: float = 1.0, C: float = 1.0, random_state: Any = None) -> None:
        self.n_components = n_components
        self.gamma = gamma
        self.C = C
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> NystroemClassifier:
        from sklearn.linear_model import LogisticRegression

        X, y = validate_data(self, X, y)
        self.features_ = _nystroem(X, self.n_components, self.gamma, self.random_state)
        self.model_ = LogisticRegression(C=float(self.C), max_iter=2000).fit(self.features_.transform(X), y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False)
        return self.model_.predict_proba(self.features_.transform(X))

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False)
        return self.model_.decision_function(self.features_.transform(X))

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class SubsetGPRegressor(RegressorMixin, BaseEstimator):
    """The exact GP of the ``gp`` component on a seeded random subset of ``n_subset`` rows.

    Args:
        n_subset: Rows the GP is fitted on (all of them when fewer are given).
        nu: Smoothness of the Matern kernel.
        noise: Starting noise level of the white kernel (fitted).
        random_state: Seed of the subset draw and of the GP.
    """

    def __init__(self, n_subset: int = 800, nu: float = 2.5, noise: float = 0.1, random_state: Any = None) -> None:
        self.n_subset = n_subset
        self.nu = nu
        self.noise = noise
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SubsetGPRegressor:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
        from sklearn.utils import check_random_state

        X, y = validate_data(self, X, y, y_numeric=True)
        n = X.shape[0]
        m = int(max(1, min(self.n_subset, n)))
        rows = np.sort(check_random_state(self.random_state).choice(n, size=m, replace=False)) if m < n else np.arange(n)
        self.subset_ = rows
        kernel = ConstantKernel(1.0) * Matern(length_scale=1.0, nu=float(self.nu)) + WhiteKernel(noise_level=float(self.noise), noise_level_bounds=(1e-6, 10.0))
        self.gp_ = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=0, random_state=self.random_state)
        self.gp_.fit(X[rows], np.asarray(y, dtype=float)[rows])
        return self

    def predict(self, X: Any, return_std: bool = False) -> Any:
        check_is_fitted(self, "gp_")
        X = validate_data(self, X, reset=False)
        return self.gp_.predict(X, return_std=return_std)
