"""Fraction groups: columns that are parts of one whole (dopant, solvent or cation fractions).

A fraction group's columns must be non-negative and sum to ``total`` (1 by default) within a
tolerance on every row. :func:`check_fraction_groups` lists every violation (for the quality
report); :func:`validate_fraction_groups` raises with the offending rows named;
:class:`FractionGroupValidator` is the pipeline step (raise, warn, or renormalize).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.validation import check_choice, format_columns, require_columns

__all__ = [
    "FractionGroup",
    "FractionGroupValidator",
    "as_fraction_groups",
    "check_fraction_groups",
    "validate_fraction_groups",
]


@dataclass(frozen=True)
class FractionGroup:
    """Columns that must sum to ``total`` within ``tolerance`` (absolute) on every row."""

    name: str
    columns: tuple[str, ...]
    total: float = 1.0
    tolerance: float = 1e-3


def as_fraction_groups(groups: Any, *, tolerance: float | None = None) -> list[FractionGroup]:
    """Accept ``{name: [columns]}``, a list of :class:`FractionGroup`, or objects with the same
    attributes (e.g. the campaign spec's fraction groups).

    ``tolerance`` overrides each group's own tolerance when given.
    """
    if groups is None:
        return []
    out: list[FractionGroup] = []
    items: list[Any]
    if isinstance(groups, Mapping):
        items = [FractionGroup(name=str(k), columns=tuple(v)) for k, v in groups.items()]
    else:
        items = list(groups)
    for item in items:
        if isinstance(item, FractionGroup):
            group = item
        elif hasattr(item, "columns") and hasattr(item, "name"):
            group = FractionGroup(
                name=str(item.name),
                columns=tuple(item.columns),
                total=float(getattr(item, "total", 1.0)),
                tolerance=float(getattr(item, "tolerance", 1e-3)),
            )
        else:
            raise SpecError(
                f"fraction groups: expected {{name: [columns]}} or FractionGroup objects, got {type(item).__name__}."
            )
        if tolerance is not None:
            group = FractionGroup(group.name, group.columns, group.total, float(tolerance))
        if len(group.columns) < 2:
            raise SpecError(f"fraction group {group.name!r}: needs at least two columns, got {list(group.columns)}.")
        if not group.tolerance >= 0:
            raise SpecError(f"fraction group {group.name!r}: tolerance must be >= 0, got {group.tolerance}.")
        out.append(group)
    return out


def check_fraction_groups(
    frame: pd.DataFrame,
    groups: Any,
    *,
    tolerance: float | None = None,
    missing_as_zero: bool = False,
    where: str = "data",
) -> pd.DataFrame:
    """Every row that breaks a fraction group's rules.

    Args:
        frame: The table.
        groups: See :func:`as_fraction_groups`.
        tolerance: Overrides each group's tolerance.
        missing_as_zero: Treat empty cells as 0 (e.g. a dopant column left empty when undoped);
            otherwise an empty cell in a partly-filled group is a violation. Rows where the whole
            group is empty are reported as ``missing``.
        where: Dataset name for messages.

    Returns:
        One row per violation: ``group``, ``row`` (index label), ``sum``, ``expected``,
        ``problem`` (``sum`` / ``negative`` / ``missing``), ``detail``.
    """
    records = []
    for group in as_fraction_groups(groups, tolerance=tolerance):
        cols = require_columns(frame, group.columns, role=f"fraction group {group.name!r}", where=where)
        data = frame[cols].apply(pd.to_numeric, errors="coerce")
        text = frame[cols].notna() & data.isna()
        if text.any().any():
            col = text.any().idxmax()
            row = text[col].idxmax()
            raise DataValidationError(
                f"{where}: fraction group {group.name!r}: column {col!r} row {row} holds {frame.at[row, col]!r}, "
                "which is not a number. Fractions must be numbers between 0 and the group total."
            )
        all_missing = data.isna().all(axis=1)
        some_missing = data.isna().any(axis=1) & ~all_missing
        filled = data.fillna(0.0)
        sums = filled.sum(axis=1)
        negative = (filled < 0).any(axis=1)
        off = (sums - group.total).abs() > group.tolerance + 1e-12
        for row in frame.index[all_missing]:
            records.append(_violation(group, row, np.nan, "missing", f"every column of {group.name!r} is empty"))
        for row in frame.index[~all_missing & negative]:
            neg = [c for c in cols if filled.at[row, c] < 0]
            records.append(_violation(group, row, sums[row], "negative", f"negative fraction in {format_columns(neg)}"))
        if not missing_as_zero:
            for row in frame.index[some_missing]:
                empty = [c for c in cols if pd.isna(data.at[row, c])]
                records.append(
                    _violation(
                        group,
                        row,
                        sums[row],
                        "missing",
                        f"empty cell(s) in {format_columns(empty)}; use missing_as_zero=True if empty means 0",
                    )
                )
        check_rows = ~all_missing & (missing_as_zero | ~some_missing)
        for row in frame.index[check_rows & off]:
            records.append(
                _violation(
                    group,
                    row,
                    sums[row],
                    "sum",
                    f"sums to {sums[row]:.6g}, expected {group.total:g} ± {group.tolerance:g}",
                )
            )
    return pd.DataFrame(records, columns=["group", "row", "sum", "expected", "problem", "detail"])


def _violation(group: FractionGroup, row: Any, total: float, problem: str, detail: str) -> dict[str, Any]:
    return {
        "group": group.name,
        "row": row,
        "sum": total,
        "expected": group.total,
        "problem": problem,
        "detail": detail,
    }


def violation_message(violations: pd.DataFrame, *, where: str, limit: int = 8) -> str:
    lines = [f"row {r.row}: group {r.group!r} {r.detail}" for r in violations.head(limit).itertuples()]
    more = f"\n  ... and {len(violations) - limit} more" if len(violations) > limit else ""
    return (
        f"{where}: {len(violations)} fraction-group violation(s):\n  "
        + "\n  ".join(lines)
        + more
        + "\nFix the fractions in the data, widen the group's tolerance if the values are rounded, or "
        "renormalize them (FractionGroupValidator(action='normalize'))."
    )


def validate_fraction_groups(
    frame: pd.DataFrame,
    groups: Any,
    *,
    tolerance: float | None = None,
    missing_as_zero: bool = False,
    where: str = "data",
) -> None:
    """Raise :class:`DataValidationError` naming every row that breaks a fraction group."""
    violations = check_fraction_groups(frame, groups, tolerance=tolerance, missing_as_zero=missing_as_zero, where=where)
    if len(violations):
        raise DataValidationError(violation_message(violations, where=where))


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
