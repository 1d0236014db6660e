"""Fraction groups: columns that are parts of one whole (dopant, solvent or cation fractions).

A fraction group's columns must be non-negative and sum to ``total`` (1 by default) within a
tolerance on every row. :class:`FractionGroup` is the one record (the campaign spec's
``fraction_groups`` entries are these); :func:`check_fraction_groups` lists every violation (for
the quality report); :func:`validate_fraction_groups` raises with the offending rows named. The
pipeline step that checks or renormalizes them is :class:`planner.steps.FractionGroupValidator`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.chem._schema import record_schema
from planner.exceptions import DataValidationError, SpecError
from planner.validation import format_columns, require_columns

__all__ = [
    "FractionGroup",
    "as_fraction_groups",
    "check_fraction_groups",
    "validate_fraction_groups",
    "violation_message",
]


def _names(values: Any, *, what: str, group: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise SpecError(f"fraction group {group!r}: {what} must be a list of column names, got {values!r}.")
    return [str(v).strip() for v in values]


@dataclass(frozen=True)
class FractionGroup:
    """Columns that must sum to ``total`` within ``tolerance`` (absolute, > 0) on every row.

    Frozen (attributes cannot be reassigned); ``columns`` and ``molecules`` are lists, as in
    ``campaign.yaml``, so a group is not hashable.

    Attributes:
        name: Group name (in messages and reports).
        columns: The fraction columns, at least two.
        total: What each row's fractions sum to.
        tolerance: Largest accepted ``|sum - total|``.
        molecules: Optional SMILES column of each fraction (same order): a mixture of molecules.
    """

    name: str
    columns: list[str]
    total: float = 1.0
    tolerance: float = 1e-3
    molecules: list[str] | None = None

    def __post_init__(self) -> None:
        name = str(self.name).strip() if self.name is not None else ""
        if not name:
            raise SpecError(f"a fraction group needs a non-empty name, got {self.name!r}.")
        columns = _names(self.columns, what="columns", group=name)
        if len(columns) < 2:
            raise SpecError(f"fraction group {name!r}: needs at least two columns, got {list(columns)}.")
        try:
            total, tolerance = float(self.total), float(self.tolerance)
        except (TypeError, ValueError) as err:
            raise SpecError(
                f"fraction group {name!r}: total and tolerance must be numbers, got {self.total!r} and {self.tolerance!r}."
            ) from err
        if not math.isfinite(total):
            raise SpecError(f"fraction group {name!r}: total must be a finite number, got {self.total!r}.")
        if not (math.isfinite(tolerance) and tolerance > 0):
            raise SpecError(f"fraction group {name!r}: tolerance must be > 0, got {self.tolerance!r}.")
        molecules = None if self.molecules is None else _names(self.molecules, what="molecules", group=name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "tolerance", tolerance)
        object.__setattr__(self, "molecules", molecules)

    def to_dict(self) -> dict[str, Any]:
        """The ``campaign.yaml`` form."""
        return {
            "name": self.name,
            "columns": list(self.columns),
            "total": self.total,
            "tolerance": self.tolerance,
            "molecules": None if self.molecules is None else list(self.molecules),
        }

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return record_schema(
            cls,
            fields=("name", "columns", "total", "tolerance", "molecules"),
            required=("name", "columns"),
            to_mapping=cls.to_dict,
        )


def as_fraction_groups(groups: Any, *, tolerance: float | None = None) -> list[FractionGroup]:
    """Accept ``{name: [columns]}``, a list of :class:`FractionGroup` (what the campaign spec's
    ``fraction_groups`` holds), or objects with the same attributes.

    ``tolerance`` overrides each group's own tolerance when given (> 0, as a group's own).
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
                molecules=getattr(item, "molecules", None),
            )
        else:
            raise SpecError(
                f"fraction groups: expected {{name: [columns]}} or FractionGroup objects, got {type(item).__name__}."
            )
        if tolerance is not None:
            group = replace(group, tolerance=float(tolerance))
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
    """One message listing the first ``limit`` violations of :func:`check_fraction_groups`' table."""
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
