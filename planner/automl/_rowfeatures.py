"""The pipeline step of a row-wise representation (see :mod:`planner.automl._representations`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from planner.automl._representations import DEFAULT_REPRESENTATION, check_representation, lookup

__all__ = ["RowFeaturizer", "composition_featurizer"]


class RowFeaturizer(TransformerMixin, BaseEstimator):
    """One text column -> the numbers of a representation (looked up, computed once per process).

    Args:
        column: The column it reads.
        role: The column's role (``composition``).
        representation: A registered family, or several joined by ``+``.
    """

    def __init__(self, *, column: str = "composition", role: str = "composition", representation: str = "magpie") -> None:
        self.column = column
        self.role = role
        self.representation = representation

    def fit(self, X: Any, y: Any = None) -> RowFeaturizer:
        self.families_ = check_representation(self.role, self.representation)
        self.n_features_in_ = 1
        self.names_ = self._transform(X).columns.tolist()
        return self

    def _values(self, X: Any) -> list[Any]:
        if isinstance(X, pd.DataFrame):
            col = X[self.column] if self.column in X.columns else X.iloc[:, 0]
            return list(col.to_numpy(dtype=object))
        arr = np.asarray(X, dtype=object)
        return list(arr[:, 0] if arr.ndim == 2 else arr)

    def _transform(self, X: Any) -> pd.DataFrame:
        values = self._values(X)
        parts = []
        for family in self.families_:
            names, matrix = lookup(values, self.role, family)
            parts.append(pd.DataFrame(matrix, columns=names))
        out = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        if isinstance(X, pd.DataFrame):
            out.index = X.index
        return out

    def transform(self, X: Any) -> pd.DataFrame:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "families_")
        return self._transform(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.names_, dtype=object)


def composition_featurizer(column: str, representation: str | None = None) -> RowFeaturizer:
    """The featurizer of one composition column (``representation`` defaults to Magpie)."""
    return RowFeaturizer(column=column, role="composition", representation=representation or DEFAULT_REPRESENTATION["composition"])
