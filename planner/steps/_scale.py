"""Scaling of numeric columns, as a pipeline step.

:class:`FeatureScaler` — one estimator with a ``method`` parameter: z-score standardization,
robust (median/IQR) scaling, min-max, Yeo-Johnson/Box-Cox power transform, or a quantile
transform to a normal or uniform distribution. Missing values pass through untouched.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from planner.exceptions import DataQualityWarning, DataValidationError
from planner.validation import check_choice, format_columns, format_values

__all__ = ["SCALING_METHODS", "FeatureScaler"]

SCALING_METHODS = ("standard", "robust", "minmax", "power", "quantile", "none")


class FeatureScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale numeric columns with a method the search can choose.

    Args:
        method: ``"standard"`` (z-score), ``"robust"`` (median and IQR), ``"minmax"``,
            ``"power"`` (Yeo-Johnson or Box-Cox, then standardized), ``"quantile"`` or
            ``"none"``.
        power_method: ``"yeo-johnson"`` (any values) or ``"box-cox"`` (strictly positive).
        quantile_output: ``"normal"`` or ``"uniform"`` for ``method="quantile"``.
        n_quantiles: Upper bound on quantiles; capped at the training row count so small
            datasets do not trigger scikit-learn's warning.

    Attributes:
        scaler_: The fitted scikit-learn transformer (``None`` for ``"none"``).
        scaled_columns_: Indices of the columns scaled.
        passthrough_columns_: Indices of columns with no training values, passed through
            unchanged (a :class:`DataQualityWarning` says which).
    """

    def __init__(
        self,
        *,
        method: str = "standard",
        power_method: str = "yeo-johnson",
        quantile_output: str = "normal",
        n_quantiles: int = 1000,
    ) -> None:
        self.method = method
        self.power_method = power_method
        self.quantile_output = quantile_output
        self.n_quantiles = n_quantiles

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_numeric(self, X: Any) -> None:
        if isinstance(X, pd.DataFrame):
            bad = [
                str(c)
                for c in X.columns
                if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
            ]
            if bad:
                example = X[bad[0]].dropna().head(2).tolist()
                raise DataValidationError(
                    f"FeatureScaler: column(s) {format_columns(bad)} are not numeric (e.g. {format_values(example)}). "
                    "Encode them first (CategoricalEncoder) or drop them before scaling."
                )

    def fit(self, X: Any, y: Any = None) -> FeatureScaler:
        owner = type(self).__name__
        check_choice(self.method, SCALING_METHODS, name="method", owner=owner)
        check_choice(self.power_method, ("yeo-johnson", "box-cox"), name="power_method", owner=owner)
        check_choice(self.quantile_output, ("normal", "uniform"), name="quantile_output", owner=owner)
        self._check_numeric(X)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        # Columns with no training values cannot be scaled: they pass through unchanged.
        empty = np.isnan(X).all(axis=0) if X.shape[0] else np.ones(X.shape[1], dtype=bool)
        self.scaled_columns_ = np.flatnonzero(~empty)
        self.passthrough_columns_ = np.flatnonzero(empty)
        if len(self.passthrough_columns_):
            names = np.asarray(_check_feature_names_in(self, None), dtype=object)[self.passthrough_columns_]
            warnings.warn(
                f"FeatureScaler: column(s) {format_columns(names)} have no values in the training data; they are "
                "passed through unscaled. Drop them upstream (ColumnFilter).",
                DataQualityWarning,
                stacklevel=2,
            )
        Xs = X[:, self.scaled_columns_]
        self.scaler_ = self._build(Xs)
        if self.scaler_ is not None and Xs.shape[1]:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                self.scaler_.fit(Xs)
        return self

    def _build(self, X: np.ndarray) -> Any:
        from sklearn import preprocessing as pp

        if self.method == "standard":
            return pp.StandardScaler()
        if self.method == "robust":
            return pp.RobustScaler()
        if self.method == "minmax":
            return pp.MinMaxScaler()
        if self.method == "power":
            if self.power_method == "box-cox":
                bad_cols = np.flatnonzero(np.nanmin(np.where(np.isnan(X), 1.0, X), axis=0) <= 0) if X.size else []
                if len(bad_cols):
                    all_names = np.asarray(_check_feature_names_in(self, None), dtype=object)
                    names = all_names[self.scaled_columns_][bad_cols]
                    raise DataValidationError(
                        f"FeatureScaler: power_method='box-cox' needs strictly positive values, but column(s) "
                        f"{format_columns(names)} contain zero or negative values. Use power_method='yeo-johnson'."
                    )
            return pp.PowerTransformer(method=self.power_method, standardize=True)
        if self.method == "quantile":
            return pp.QuantileTransformer(
                n_quantiles=max(1, min(int(self.n_quantiles), X.shape[0])),
                output_distribution=self.quantile_output,
                subsample=None,
            )
        return None

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "scaler_")
        self._check_numeric(X)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self._apply(X, inverse=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "scaler_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self._apply(X, inverse=True)

    def _apply(self, X: np.ndarray, *, inverse: bool) -> np.ndarray:
        out = X.copy()
        if self.scaler_ is None or not len(self.scaled_columns_):
            return out
        cols = self.scaled_columns_
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            step = self.scaler_.inverse_transform if inverse else self.scaler_.transform
            out[:, cols] = step(X[:, cols])
        return out
