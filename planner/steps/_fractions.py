"""The fraction-group pipeline step: check (raise / warn) or renormalize fraction groups.

The record and the checks (:class:`~planner.chem.FractionGroup`,
:func:`~planner.chem.check_fraction_groups`) are :mod:`planner.chem`'s.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from planner.chem._fractions import as_fraction_groups, check_fraction_groups, violation_message
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.validation import check_choice

__all__ = ["FractionGroupValidator"]


class FractionGroupValidator(TransformerMixin, BaseEstimator):
    """Pipeline step that checks fraction groups on every table it sees (needs a DataFrame).

    Args:
        groups: ``{name: [columns]}`` or fraction-group objects (see :func:`as_fraction_groups`).
        tolerance: Overrides each group's tolerance.
        action: ``"raise"`` (:class:`DataValidationError`), ``"warn"``
            (:class:`DataQualityWarning`, data unchanged) or ``"normalize"`` (divide each group
            by its row sum so it sums to ``total``; rows summing to 0 stay unchanged and are warned about).
        missing_as_zero: See :func:`check_fraction_groups`.

    Attributes:
        n_violations_: Violations found in the training data.
    """

    def __init__(
        self,
        *,
        groups: Any = None,
        tolerance: float | None = None,
        action: str = "raise",
        missing_as_zero: bool = False,
    ) -> None:
        self.groups = groups
        self.tolerance = tolerance
        self.action = action
        self.missing_as_zero = missing_as_zero

    def fit(self, X: Any, y: Any = None) -> FractionGroupValidator:
        check_choice(self.action, ("raise", "warn", "normalize"), name="action", owner="FractionGroupValidator")
        frame = self._frame(X, reset=True)
        self.groups_ = as_fraction_groups(self.groups, tolerance=self.tolerance)
        if not self.groups_:
            raise SpecError("FractionGroupValidator: no groups given; pass groups={'name': ['col_a', 'col_b']}.")
        self.n_violations_ = self._apply(frame, where="training data", modify=False)[1]
        return self

    def _frame(self, X: Any, reset: bool) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise DataValidationError(
                "FractionGroupValidator needs a pandas DataFrame (fraction groups are named columns); "
                f"got {type(X).__name__}. Use set_output(transform='pandas') on the steps before it."
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    def _apply(self, frame: pd.DataFrame, *, where: str, modify: bool) -> tuple[pd.DataFrame, int]:
        violations = check_fraction_groups(frame, self.groups_, missing_as_zero=self.missing_as_zero, where=where)
        if len(violations) and self.action == "raise":
            raise DataValidationError(violation_message(violations, where=where))
        if len(violations) and self.action == "warn":
            warnings.warn(violation_message(violations, where=where), DataQualityWarning, stacklevel=3)
        unfixable = violations[violations["problem"] != "sum"]
        if len(unfixable) and self.action == "normalize":
            # Renormalizing fixes sums, not negative or missing fractions: say so.
            warnings.warn(violation_message(unfixable, where=where), DataQualityWarning, stacklevel=3)
        if modify and self.action == "normalize":
            frame = frame.copy()
            for group in self.groups_:
                cols = list(group.columns)
                data = frame[cols].astype(float)
                if self.missing_as_zero:
                    data = data.fillna(0.0)
                sums = data.sum(axis=1, min_count=1)
                zero = sums.fillna(0.0) == 0
                if zero.any():
                    warnings.warn(
                        f"FractionGroupValidator: group {group.name!r} sums to 0 in {int(zero.sum())} row(s) "
                        f"(e.g. row {frame.index[zero][0]}); those rows were left unchanged.",
                        DataQualityWarning,
                        stacklevel=3,
                    )
                scaled = data.mul(group.total / sums.where(~zero), axis=0)
                changed = ~zero & ((sums - group.total).abs() > 1e-12)
                if changed.any():
                    warnings.warn(
                        f"FractionGroupValidator: renormalized group {group.name!r} to sum to {group.total:g} in "
                        f"{int(changed.sum())} row(s) (e.g. row {frame.index[changed][0]}, which summed to "
                        f"{sums[changed].iloc[0]:.6g}).",
                        DataQualityWarning,
                        stacklevel=3,
                    )
                frame.loc[~zero, cols] = scaled.loc[~zero].to_numpy()
        return frame, len(violations)

    def transform(self, X: Any) -> pd.DataFrame:
        """The table, checked (and renormalized with ``action="normalize"``)."""
        check_is_fitted(self, "groups_")
        frame = self._frame(X, reset=False)
        return self._apply(frame, where="data", modify=True)[0]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "groups_")
        return np.asarray(self.feature_names_in_, dtype=object)
