"""Missing values: imputation and missingness-based column filtering, as pipeline steps.

* :class:`Imputer` — one estimator with a ``strategy`` parameter the AutoML search can tune:
  ``mean`` / ``median`` / ``most_frequent`` / ``constant`` (scikit-learn's ``SimpleImputer``),
  ``knn`` (``KNNImputer`` on standardized columns, so one large-valued column does not decide
  who the neighbours are), and ``iterative``: MICE-style chained equations with
  ``IterativeImputer`` around a tree ensemble (ExtraTrees by default, or LightGBM) — the
  "MICE forest" idea, which captures non-linear relations between features. Missing-indicator
  columns can be appended (``add_indicator=True``).
* :class:`ColumnFilter` — drops columns whose share of missing values in the *training* fold
  exceeds a threshold, and constant columns, recording the reason for each.

Everything is learned in ``fit`` from the training fold only, so inside cross-validation the
test fold's values never inform what is imputed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from planner.exceptions import DataQualityWarning, OptionalDependencyError, SpecError
from planner.validation import check_choice, check_fraction, format_columns, plain

__all__ = ["IMPUTE_STRATEGIES", "ColumnFilter", "Imputer"]

IMPUTE_STRATEGIES = ("mean", "median", "most_frequent", "constant", "knn", "iterative")
_ITERATIVE_ESTIMATORS = ("extra_trees", "random_forest", "lightgbm", "bayesian_ridge")


def _iterative_estimator(name_or_est: Any, *, n_estimators: int, random_state: Any) -> Any:
    if not isinstance(name_or_est, str):
        return clone(name_or_est)
    if name_or_est == "extra_trees":
        from sklearn.ensemble import ExtraTreesRegressor

        # min_samples_leaf > 1 keeps the trees from reproducing single noisy rows.
        return ExtraTreesRegressor(
            n_estimators=n_estimators, min_samples_leaf=2, max_features=1.0, random_state=random_state, n_jobs=1
        )
    if name_or_est == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=2, random_state=random_state, n_jobs=1)
    if name_or_est == "lightgbm":
        try:
            from lightgbm import LGBMRegressor
        except ImportError as err:  # pragma: no cover - lightgbm is a core dependency
            raise OptionalDependencyError(
                "Imputer(estimator='lightgbm') needs lightgbm: pip install 'lightgbm>=4.5'"
            ) from err
        return LGBMRegressor(
            n_estimators=n_estimators,
            min_child_samples=5,
            learning_rate=0.1,
            random_state=random_state,
            n_jobs=1,
            verbose=-1,
        )
    from sklearn.linear_model import BayesianRidge

    return BayesianRidge()


class Imputer(TransformerMixin, BaseEstimator):
    """Fill missing values with a strategy learned on the training fold.

    Args:
        strategy: ``"mean"``, ``"median"``, ``"most_frequent"``, ``"constant"``, ``"knn"`` or
            ``"iterative"`` (MICE with a tree ensemble).
        add_indicator: Append a 0/1 ``missingindicator_<column>`` for every column that had
            missing values in the training fold.
        fill_value: Value for ``strategy="constant"`` (default 0).
        n_neighbors: Neighbours for ``"knn"``.
        knn_weights: ``"uniform"`` or ``"distance"`` for ``"knn"``.
        scale_knn: Standardize columns before the KNN distance (recommended; values are
            returned on their original scale).
        estimator: For ``"iterative"``: ``"extra_trees"`` (default), ``"random_forest"``,
            ``"lightgbm"``, ``"bayesian_ridge"``, or any regressor instance.
        n_estimators: Trees per model for the tree-based iterative estimators.
        max_iter: Rounds of chained equations for ``"iterative"``.
        random_state: Seed for ``"iterative"``.

    Attributes:
        imputer_: The fitted scikit-learn imputer.
        kept_columns_: ``(n_kept,)`` indices of input columns in the output.
        dropped_columns_: ``{column name: reason}`` — columns entirely missing in the training
            fold cannot be imputed and are dropped (a ``DataQualityWarning`` says so).
        n_missing_: ``(n_features,)`` missing training cells per input column (what was imputed).
        n_iter_: Imputation passes made: 1 for single-pass strategies, the chained-equation
            rounds for ``"iterative"``.
        converged_: False if ``"iterative"`` stopped at ``max_iter`` before its tolerance.
    """

    def __init__(
        self,
        *,
        strategy: str = "median",
        add_indicator: bool = False,
        fill_value: float | None = None,
        n_neighbors: int = 5,
        knn_weights: str = "uniform",
        scale_knn: bool = True,
        estimator: Any = "extra_trees",
        n_estimators: int = 50,
        max_iter: int = 10,
        random_state: int | None = None,
    ) -> None:
        self.strategy = strategy
        self.add_indicator = add_indicator
        self.fill_value = fill_value
        self.n_neighbors = n_neighbors
        self.knn_weights = knn_weights
        self.scale_knn = scale_knn
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_choice(self.strategy, IMPUTE_STRATEGIES, name="strategy", owner=owner)
        check_choice(self.knn_weights, ("uniform", "distance"), name="knn_weights", owner=owner)
        if isinstance(self.estimator, str):
            check_choice(self.estimator, _ITERATIVE_ESTIMATORS, name="estimator", owner=owner)
        elif not hasattr(self.estimator, "fit"):
            raise SpecError(
                f"{owner}: estimator must be a name or a regressor with fit/predict, got {self.estimator!r}."
            )
        for name in ("n_neighbors", "n_estimators", "max_iter"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise SpecError(f"{owner}: {name} must be a positive integer, got {value!r}.")

    def _build(self, n_samples: int) -> Any:
        if self.strategy in ("mean", "median", "most_frequent", "constant"):
            from sklearn.impute import SimpleImputer

            return SimpleImputer(
                strategy=self.strategy,
                fill_value=0.0 if self.fill_value is None else self.fill_value,
                add_indicator=self.add_indicator,
            )
        if self.strategy == "knn":
            from sklearn.impute import KNNImputer

            # Fewer training rows than neighbours would make KNNImputer raise at transform.
            return KNNImputer(
                n_neighbors=max(1, min(self.n_neighbors, n_samples)),
                weights=self.knn_weights,
                add_indicator=self.add_indicator,
            )
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer

        return IterativeImputer(
            estimator=_iterative_estimator(
                self.estimator, n_estimators=self.n_estimators, random_state=self.random_state
            ),
            max_iter=self.max_iter,
            initial_strategy="median",
            skip_complete=True,
            add_indicator=self.add_indicator,
            random_state=self.random_state,
        )

    def fit(self, X: Any, y: Any = None) -> Imputer:
        """Learn fill values (or models) from the training rows ``X`` (``n x d``)."""
        self._check_params()
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        names = _check_feature_names_in(self, None)
        missing = np.isnan(X)
        self.n_missing_ = missing.sum(axis=0)
        empty = missing.all(axis=0) if X.shape[0] else np.zeros(X.shape[1], dtype=bool)
        self.kept_columns_ = np.flatnonzero(~empty)
        self.dropped_columns_ = {
            str(names[i]): "every value is missing in the training data, so it cannot be imputed"
            for i in np.flatnonzero(empty)
        }
        if self.dropped_columns_:
            warnings.warn(
                f"Imputer: column(s) {format_columns(self.dropped_columns_)} have no values in the training "
                "data and were dropped from the output. Remove them upstream (ColumnFilter) or provide data.",
                DataQualityWarning,
                stacklevel=2,
            )
        Xk = X[:, self.kept_columns_]
        self.scaler_ = None
        if self.strategy == "knn" and self.scale_knn:
            from sklearn.preprocessing import StandardScaler

            self.scaler_ = StandardScaler().fit(Xk)
            Xk = self.scaler_.transform(Xk)
        self.imputer_ = self._build(X.shape[0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.imputer_.fit(Xk)
        # Tree-based chained equations rarely meet IterativeImputer's tolerance; that is expected
        # and only recorded here, as is any other warning from the inner imputer.
        self.converged_ = not any("Early stopping criterion not reached" in str(w.message) for w in caught)
        for w in caught:
            if "Early stopping criterion not reached" not in str(w.message):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        # Single-pass strategies make one pass; chained equations report their rounds.
        self.n_iter_ = max(1, int(getattr(self.imputer_, "n_iter_", 1)))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` with missing cells filled (``n x d_out``, plus indicators if asked)."""
        check_is_fitted(self, "imputer_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        Xk = X[:, self.kept_columns_]
        if self.scaler_ is not None:
            Xk = self.scaler_.transform(Xk)
        out = self.imputer_.transform(Xk)
        if self.scaler_ is not None:
            n_kept = len(self.kept_columns_)
            values = self.scaler_.inverse_transform(out[:, :n_kept])
            # Keep observed values bit-for-bit (scaling round trips can change the last digit).
            observed = ~np.isnan(X[:, self.kept_columns_])
            values[observed] = X[:, self.kept_columns_][observed]
            out = np.column_stack([values, out[:, n_kept:]])
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "imputer_")
        names = np.asarray(_check_feature_names_in(self, input_features), dtype=object)[self.kept_columns_]
        return np.asarray(self.imputer_.get_feature_names_out(names), dtype=object)


class ColumnFilter(TransformerMixin, BaseEstimator):
    """Drop columns that are too sparse or constant in the training fold; record why.

    Works on numeric arrays and on DataFrames of any dtypes (a DataFrame comes back as a
    DataFrame with its dtypes kept).

    Args:
        max_missing_fraction: Drop a column whose share of missing training values is above
            this (``None``: never drop for missingness). A column with no values at all is
            always dropped.
        drop_constant: Drop columns with at most one distinct non-missing training value.

    Attributes:
        dropped_columns_: ``{column name: reason}`` for every dropped column.
        support_: ``(n_features,)`` boolean, True for kept columns.
        missing_fraction_: ``(n_features,)`` share of missing training values per column.
    """

    def __init__(self, *, max_missing_fraction: float | None = 0.5, drop_constant: bool = True) -> None:
        self.max_missing_fraction = max_missing_fraction
        self.drop_constant = drop_constant

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _as_table(self, X: Any, reset: bool) -> pd.DataFrame | np.ndarray:
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            return X
        return validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=None)

    def fit(self, X: Any, y: Any = None) -> ColumnFilter:
        owner = type(self).__name__
        check_fraction(self.max_missing_fraction, name="max_missing_fraction", owner=owner)
        table = self._as_table(X, reset=True)
        frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
        names = _check_feature_names_in(self, None)
        self.missing_fraction_ = frame.isna().mean(axis=0).to_numpy(dtype=float)
        try:
            n_unique = frame.nunique(dropna=True).to_numpy()
        except TypeError as err:
            raise TypeError(
                f"{owner}: every cell argument must be a string or a number (hashable); found {err}. "
                "Convert nested objects (dicts, lists) to text or numbers first."
            ) from err
        reasons: dict[str, str] = {}
        for i, name in enumerate(names):
            frac = self.missing_fraction_[i]
            if frac >= 1.0:
                reasons[str(name)] = "every value is missing"
            elif self.max_missing_fraction is not None and frac > self.max_missing_fraction:
                reasons[str(name)] = (
                    f"{frac:.0%} of values are missing (above max_missing_fraction={self.max_missing_fraction})"
                )
            elif self.drop_constant and n_unique[i] <= 1:
                only = frame.iloc[:, i].dropna().iloc[0]
                only = plain(only)
                reasons[str(name)] = f"constant (every non-missing value is {only!r}); it carries no information"
        self.dropped_columns_ = reasons
        self.support_ = np.array([str(name) not in reasons for name in names], dtype=bool)
        return self

    def transform(self, X: Any) -> pd.DataFrame | np.ndarray:
        check_is_fitted(self, "support_")
        table = self._as_table(X, reset=False)
        if isinstance(table, pd.DataFrame):
            return table.loc[:, self.support_]
        return table[:, self.support_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "support_")
        names = np.asarray(_check_feature_names_in(self, input_features), dtype=object)
        return names[self.support_]
