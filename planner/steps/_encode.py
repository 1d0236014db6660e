"""Encoding of categorical columns, as a pipeline step (scaling is :mod:`planner.steps._scale`).

* :class:`CategoricalEncoder` — takes a mixed table (text and numbers), one-hot or ordinal
  encodes the categorical columns and passes numeric ones through as floats. Categories that
  appear only at prediction time never crash: one-hot gives all-zero indicator columns, ordinal
  gives ``unknown_value``; either way a :class:`~planner.exceptions.DataQualityWarning` names
  the column and the unseen values.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.validation import check_choice, format_columns, format_values

__all__ = ["CategoricalEncoder"]


def _is_categorical_dtype(series: pd.Series) -> bool:
    return (
        pd.api.types.is_object_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(series)
        or pd.api.types.is_string_dtype(series)
    )


def _as_category_values(series: pd.Series) -> np.ndarray:
    """Object array of strings with ``np.nan`` for missing: the uniform input the encoders need."""
    values = series.astype(object)
    missing = values.isna()
    out = values.map(str).to_numpy(dtype=object)
    out[missing.to_numpy()] = np.nan
    return out


class CategoricalEncoder(TransformerMixin, BaseEstimator):
    """One-hot or ordinal encode categorical columns; pass numeric columns through.

    Output columns: the numeric columns (in input order, as float) followed by the encoded
    categorical columns.

    Args:
        method: ``"onehot"`` or ``"ordinal"``.
        columns: Names of the categorical columns; ``None`` takes every text, category or
            boolean column. Any other column must be numeric.
        categories: Optional ``{column: [ordered values]}`` — fixes the category order (ordinal
            codes follow it) and the set of known values for that column.
        handle_unknown: ``"ignore"`` (unknown values become all-zero one-hot columns, or
            ``unknown_value`` for ordinal) or ``"error"`` (raise at transform).
        unknown_value: Ordinal code for unseen categories (``-1`` or ``np.nan``).
        min_frequency: One-hot only: categories rarer than this (count, or fraction of rows)
            are grouped into an ``infrequent`` column.
        max_categories: One-hot only: at most this many output columns per feature.

    Attributes:
        categorical_columns_: Names of the encoded columns.
        numeric_columns_: Names of the passed-through columns.
        encoder_: The fitted ``OneHotEncoder`` / ``OrdinalEncoder`` (``None`` if no categorical
            columns).
    """

    def __init__(
        self,
        *,
        method: str = "onehot",
        columns: Sequence[str] | None = None,
        categories: Mapping[str, Sequence[Any]] | None = None,
        handle_unknown: str = "ignore",
        unknown_value: float = -1,
        min_frequency: int | float | None = None,
        max_categories: int | None = None,
    ) -> None:
        self.method = method
        self.columns = columns
        self.categories = categories
        self.handle_unknown = handle_unknown
        self.unknown_value = unknown_value
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def _frame(self, X: Any, reset: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            return X
        array = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=None)
        frame = pd.DataFrame(array, columns=[str(c) for c in _check_feature_names_in(self, None)])
        # A numeric ndarray arrives with dtype object when it mixes types; recover numbers.
        for col in frame.columns:
            if frame[col].dtype == object:
                converted = pd.to_numeric(frame[col], errors="coerce")
                if converted.notna().sum() == frame[col].notna().sum():
                    frame[col] = converted
        return frame

    def fit(self, X: Any, y: Any = None) -> CategoricalEncoder:
        owner = type(self).__name__
        check_choice(self.method, ("onehot", "ordinal"), name="method", owner=owner)
        check_choice(self.handle_unknown, ("ignore", "error"), name="handle_unknown", owner=owner)
        frame = self._frame(X, reset=True)
        names = [str(c) for c in frame.columns]
        frame = frame.set_axis(names, axis=1)
        if self.columns is None:
            cats = [c for c in names if _is_categorical_dtype(frame[c])]
        else:
            cats = [str(c) for c in self.columns]
            missing = [c for c in cats if c not in names]
            if missing:
                raise DataValidationError(
                    f"{owner}: categorical column(s) {format_columns(missing)} not in the data; "
                    f"available: {format_columns(names)}. Fix the `columns` argument."
                )
        numeric = [c for c in names if c not in cats]
        for col in numeric:
            series = frame[col]
            if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
                raise DataValidationError(
                    f"{owner}: column {col!r} holds text (e.g. {format_values(series.dropna().head(3))}) but is "
                    "not in `columns`; list it as categorical, or convert it to numbers."
                )
        self.categorical_columns_ = cats
        self.numeric_columns_ = numeric
        self.encoder_ = None
        if cats:
            self.encoder_ = self._make_encoder(cats, frame)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.encoder_.fit(self._cat_matrix(frame))
        return self

    def _make_encoder(self, cats: list[str], frame: pd.DataFrame) -> Any:
        from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

        categories: Any = "auto"
        if self.categories:
            unknown = [c for c in self.categories if c not in cats]
            if unknown:
                raise SpecError(
                    f"CategoricalEncoder: `categories` names column(s) {format_columns(unknown)} that are not "
                    f"categorical columns ({format_columns(cats)})."
                )
            categories = []
            for col in cats:
                if col in self.categories:
                    categories.append(np.array([str(v) for v in self.categories[col]], dtype=object))
                else:
                    observed = pd.Series(_as_category_values(frame[col])).dropna().unique()
                    categories.append(np.array(sorted(observed), dtype=object))
        if self.method == "onehot":
            infrequent = self.min_frequency is not None or self.max_categories is not None
            return OneHotEncoder(
                categories=categories,
                handle_unknown=(
                    "error" if self.handle_unknown == "error" else ("infrequent_if_exist" if infrequent else "ignore")
                ),
                min_frequency=self.min_frequency,
                max_categories=self.max_categories,
                sparse_output=False,
                dtype=np.float64,
            )
        unknown = self.unknown_value
        if unknown is None or (isinstance(unknown, float) and np.isnan(unknown)):
            unknown = np.nan
        elif isinstance(unknown, (int, float, np.number)) and float(unknown).is_integer():
            unknown = int(unknown)
        else:
            raise SpecError(f"CategoricalEncoder: unknown_value must be an integer code or NaN, got {unknown!r}.")
        return OrdinalEncoder(
            categories=categories,
            handle_unknown="error" if self.handle_unknown == "error" else "use_encoded_value",
            unknown_value=None if self.handle_unknown == "error" else unknown,
            encoded_missing_value=np.nan,
            dtype=np.float64,
        )

    def _cat_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([_as_category_values(frame[c]) for c in self.categorical_columns_])

    def transform(self, X: Any) -> np.ndarray:
        """``n x d_out`` float matrix: numeric columns, then the encoded categorical ones."""
        check_is_fitted(self, "categorical_columns_")
        frame = self._frame(X, reset=False)
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        parts = []
        if self.numeric_columns_:
            try:
                parts.append(frame[self.numeric_columns_].to_numpy(dtype=np.float64))
            except (TypeError, ValueError) as err:
                raise DataValidationError(
                    f"CategoricalEncoder: numeric column(s) {format_columns(self.numeric_columns_)} hold "
                    "non-numeric values at transform time; they were numeric when the encoder was fitted. "
                    "Clean the new data or refit."
                ) from err
        if self.encoder_ is not None:
            matrix = self._cat_matrix(frame)
            self._warn_unknown(matrix)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                try:
                    parts.append(self.encoder_.transform(matrix))
                except ValueError as err:
                    raise DataValidationError(
                        f"CategoricalEncoder: {err}. These categories were not in the training data; "
                        "use handle_unknown='ignore' to encode them as unknown."
                    ) from err
        if not parts:
            return np.empty((frame.shape[0], 0))
        return np.column_stack(parts)

    def _warn_unknown(self, matrix: np.ndarray) -> None:
        if self.handle_unknown == "error":
            return
        for j, col in enumerate(self.categorical_columns_):
            known = set(self.encoder_.categories_[j].tolist())
            values = pd.Series(matrix[:, j])
            unseen = values[values.notna() & ~values.isin(known)]
            if len(unseen):
                coded = "all-zero one-hot columns" if self.method == "onehot" else f"code {self.unknown_value}"
                warnings.warn(
                    f"CategoricalEncoder: column {col!r} has {len(unseen)} value(s) not seen in training "
                    f"({format_values(unseen.unique())}); encoded as {coded}.",
                    DataQualityWarning,
                    stacklevel=3,
                )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "categorical_columns_")
        _check_feature_names_in(self, input_features)
        names = list(self.numeric_columns_)
        if self.encoder_ is not None:
            names += list(self.encoder_.get_feature_names_out(self.categorical_columns_))
        return np.asarray(names, dtype=object)
