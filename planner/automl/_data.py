"""Checks and column roles for the tables handed to the search.

The campaign layer gives ``X`` with a role per column; this module validates the
target and the roles and decides which columns the pipeline uses. Composition strings
are featurized by ``planner.steps`` when that package provides a featurizer;
otherwise they are dropped, and the drop is recorded as a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, SpecError
from planner.validation import plain

__all__ = ["ROLES", "PreparedData", "prepare_data", "infer_roles", "memory_row_cap", "subsample_data"]

#: Column roles the engine understands. ``ignore`` columns are never used.
ROLES = ("numeric", "categorical", "composition", "ignore")


@dataclass(frozen=True)
class PreparedData:
    """Validated inputs of a search.

    Attributes:
        X: The feature table with only the used columns, `n x d`.
        y: The target, `n`.
        groups: Group label per row, or ``None``.
        column_roles: Role of every used column (``numeric``, ``categorical`` or
            ``composition`` - featurized inside the pipeline).
        notes: What was changed and why (dropped columns, inferred roles).
    """

    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray | None
    column_roles: dict[str, str]
    notes: tuple[str, ...] = field(default=())

    @property
    def has_missing(self) -> bool:
        return bool(self.X.isna().to_numpy().any())

    @property
    def has_categorical(self) -> bool:
        return "categorical" in self.column_roles.values()


def _has_featurizer() -> bool:
    try:
        import matminer  # noqa: F401 - ships the element tables
        import pymatgen.core  # noqa: F401 - parses the formulas
    except ImportError:
        return False
    return True


def _is_molecule_role(role: str) -> bool:
    from planner.automl._molecules import is_molecule_role

    return is_molecule_role(role)


def _formula_notes(col: str, values: pd.Series, limit: int = 5) -> list[str]:
    """One note per formula that does not parse (row and value named); those rows go on with missing descriptors."""
    from planner.automl._representations import parse_problems

    problems = parse_problems(values)
    notes = [
        f"composition column {col!r}, row {label}: {reason}; its descriptors are missing (imputed inside the pipeline), the other rows go on"
        for label, reason in list(problems.items())[:limit]
    ]
    if len(problems) > limit:
        notes.append(f"composition column {col!r}: {len(problems) - limit} more formula(s) do not parse (rows {list(problems)[limit:limit + 20]})")
    return notes


def infer_roles(X: pd.DataFrame) -> dict[str, str]:
    """Numeric and boolean dtypes are ``numeric``; everything else ``categorical``."""
    return {
        str(c): "numeric" if pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]) else "categorical"
        for c in X.columns
    }


def prepare_data(
    X: pd.DataFrame | np.ndarray,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    task: str,
    column_roles: Mapping[str, str] | None = None,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
) -> PreparedData:
    """Validate ``X``, ``y`` and the roles; keep the columns the pipeline can use.

    Raises:
        SpecError: Unknown task or role.
        DataValidationError: Length mismatch, missing or non-numeric target, a target
            with one value, a numeric column holding text, or no usable column.
    """
    if task not in ("regression", "classification"):
        raise SpecError(f"task must be 'regression' or 'classification', got {task!r}")
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.asarray(X).shape[1])])
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise DataValidationError(
            f"the target must be one column, got shape {y_arr.shape}; run one study per target (multi-target campaigns)"
        )
    if len(X) != len(y_arr):
        raise DataValidationError(f"X has {len(X)} rows but the target has {len(y_arr)}; give one target value per row")
    if pd.isna(y_arr).any():
        raise DataValidationError(
            f"the target has {int(pd.isna(y_arr).sum())} missing value(s); drop those rows before the search (the quality step reports them)"
        )
    if task == "regression":
        try:
            y_arr = y_arr.astype(float)
        except (TypeError, ValueError) as err:
            raise DataValidationError("a regression target must be numeric; convert it or set task: classification") from err
    n_unique = len(np.unique(y_arr))
    if n_unique < 2:
        value = plain(y_arr[0])  # 1, not np.int64(1)
        raise DataValidationError(
            f"the target has a single unique value ({value!r}) over {len(y_arr)} rows; nothing to learn - check the target column"
        )

    notes: list[str] = []
    inferred = infer_roles(X)
    roles: dict[str, str] = {}
    given = dict(column_roles or {})
    for col, role in given.items():
        if role not in ROLES and not _is_molecule_role(role):
            raise SpecError(f"column {col!r} has unknown role {role!r}; use one of {list(ROLES)}")
        if col not in X.columns:
            raise DataValidationError(f"column_roles names {col!r}, which is not in X (columns: {list(X.columns)})")
    for col in X.columns:
        if col in given:
            roles[col] = given[col]
        else:
            roles[col] = inferred[col]
            if column_roles is not None:
                notes.append(f"column {col!r} had no role; inferred {inferred[col]!r} from its dtype")

    for col, role in list(roles.items()):
        if role == "numeric" and not pd.api.types.is_numeric_dtype(X[col]) and not pd.api.types.is_bool_dtype(X[col]):
            converted = pd.to_numeric(X[col], errors="coerce")
            bad = X[col][converted.isna() & X[col].notna()]
            if len(bad):
                raise DataValidationError(
                    f"numeric column {col!r} holds non-numeric values (e.g. {bad.iloc[0]!r}); fix the values or give it role 'categorical'"
                )
            X[col] = converted
        elif role == "composition":
            if not _has_featurizer():
                notes.append(
                    f"composition column {col!r} dropped: no composition featurizer is available "
                    "(planner.steps with pymatgen/matminer); featurize it first and pass the feature columns"
                )
                roles[col] = "ignore"
            else:
                X[col] = X[col].astype(object)
                notes.extend(_formula_notes(col, X[col]))
        elif role == "categorical":
            X[col] = X[col].astype(object).where(X[col].notna(), np.nan)
            if X[col].nunique(dropna=True) <= 1:
                notes.append(f"categorical column {col!r} dropped: it has a single value")
                roles[col] = "ignore"
        elif role == "fraction":
            X[col] = pd.to_numeric(X[col], errors="coerce").astype(float)
        elif _is_molecule_role(role):
            X[col] = X[col].astype(object).where(X[col].notna(), None)
        if roles[col] == "numeric" and X[col].isna().all():
            notes.append(f"numeric column {col!r} dropped: every value is missing")
            roles[col] = "ignore"

    used = [c for c in X.columns if roles[c] in ("numeric", "categorical", "composition") or _is_molecule_role(roles[c])]
    if not used:
        raise DataValidationError(f"no usable feature column among {list(X.columns)} (roles: {roles}); give at least one numeric or categorical column")
    for col in X.columns:
        if roles[col] == "numeric":
            X[col] = X[col].astype(float)
    group_arr = None
    if groups is not None:
        group_arr = np.asarray(groups)
        if len(group_arr) != len(y_arr):
            raise DataValidationError(f"groups has {len(group_arr)} entries but X has {len(X)} rows; give one group per row")
        if pd.isna(group_arr).any():
            raise DataValidationError("the group column has missing values; give every row a group")
    return PreparedData(
        X=X[used].reset_index(drop=True),
        y=y_arr,
        groups=group_arr,
        column_roles={c: roles[c] for c in used},
        notes=tuple(notes),
    )


#: Numbers a composition column becomes at most (fractions + Magpie + orbital families).
_COMPOSITION_WIDTH = 103 + 132 + 16
#: Copies of the feature matrix a search holds at once (folds, pipeline steps, the model).
_MEMORY_COPIES = 12
#: Share of the free memory a search may plan to use.
_MEMORY_SHARE = 0.5


def _free_memory_bytes() -> int | None:
    import os

    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_row_cap(data: PreparedData, free_bytes: int | None = None) -> int | None:
    """Rows the search can hold in memory, or ``None`` when all of them fit.

    The estimate: 8 bytes per number, composition columns at their widest representation,
    one-hot categories counted by their levels, times the copies a search holds at once,
    against half the free memory.
    """
    free = _free_memory_bytes() if free_bytes is None else free_bytes
    if free is None:
        return None
    width = 0
    for col, role in data.column_roles.items():
        width += _COMPOSITION_WIDTH if role == "composition" else min(50, data.X[col].nunique()) if role == "categorical" else 1
    per_row = 8 * max(width, 1) * _MEMORY_COPIES
    cap = int(_MEMORY_SHARE * free // per_row)
    return None if cap >= len(data.y) else max(cap, 1)


def subsample_data(data: PreparedData, n_rows: int, *, seed: int) -> PreparedData:
    """A seeded subsample of ``n_rows`` rows (whole groups stay whole only by chance), with a note saying so."""
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(data.y), size=n_rows, replace=False))
    note = (
        f"the table has {len(data.y)} rows, more than the free memory holds for a search "
        f"(about {n_rows} rows); searched and refitted on a seeded subsample of {n_rows} rows"
    )
    return PreparedData(
        X=data.X.iloc[keep].reset_index(drop=True),
        y=data.y[keep],
        groups=None if data.groups is None else data.groups[keep],
        column_roles=dict(data.column_roles),
        notes=(*data.notes, note),
    )
