"""Checks and column roles for the tables handed to the search.

The campaign layer gives ``X`` with a role per column; this module validates the
target and the roles and decides which columns the pipeline uses. Composition strings
are featurized by ``planner.features`` when that package provides a featurizer;
otherwise they are dropped, and the drop is recorded as a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, SpecError

__all__ = ["ROLES", "PreparedData", "prepare_data", "infer_roles"]

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
        from planner.automl._build import composition_featurizer

        composition_featurizer("composition")
    except ImportError:
        return False
    return True


def _is_molecule_role(role: str) -> bool:
    from planner.automl._molecules import is_molecule_role

    return is_molecule_role(role)


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
        value = y_arr[0].item() if isinstance(y_arr[0], np.generic) else y_arr[0]  # 1, not np.int64(1)
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
                    "(planner.features with pymatgen/matminer); featurize it first and pass the feature columns"
                )
                roles[col] = "ignore"
            else:
                X[col] = X[col].astype(object)
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
