"""Recognising one entity across rows: normalized compositions and measurement conditions.

Shared by the merge (:func:`~planner.sources.merge_sources`) and the quality report's
consistency and uniqueness checks, so both group rows the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import SpecError
from planner.validation import format_columns

__all__ = ["UnionFind", "composition_keys", "condition_clusters", "condition_tolerances"]


def composition_keys(formulas: pd.Series) -> tuple[pd.Series, dict[Any, str]]:
    """Normalized composition per row (see :func:`planner.chem.normalize_formula`).

    Unparseable formulas keep their cleaned text as the key (so identical strings still group)
    and are returned in the second item, ``{row label: reason}``.
    """
    from planner.chem import FormulaError, clean_formula, normalize_formula

    keys: dict[Any, Any] = {}
    errors: dict[Any, str] = {}
    cache: dict[str, Any] = {}
    for label, value in formulas.items():
        if not isinstance(value, str):
            keys[label] = np.nan
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                errors[label] = f"{value!r} is not a formula string"
            continue
        if value not in cache:
            try:
                cache[value] = (normalize_formula(value), None)
            except FormulaError as err:
                cache[value] = (clean_formula(value), str(err))
        key, problem = cache[value]
        keys[label] = key
        if problem:
            errors[label] = f"{value!r}: {problem}"
    return pd.Series(keys, index=formulas.index, dtype=object), errors


def condition_clusters(
    frame: pd.DataFrame, rows: np.ndarray, columns: Sequence[str], tolerances: Mapping[str, float]
) -> list[np.ndarray]:
    """Split ``rows`` into groups with equal conditions; numeric ones within a tolerance.

    Numeric values are sorted and split where consecutive values differ by more than the
    tolerance (single linkage: a chain of values each within tolerance of the next is one
    group). Missing conditions only match missing conditions.
    """
    if not columns or len(rows) == 1:
        return [rows]
    col, rest = columns[0], columns[1:]
    values = frame[col].to_numpy()[rows]
    out: list[np.ndarray] = []
    missing = pd.isna(values)
    if missing.any():
        out += condition_clusters(frame, rows[missing], rest, tolerances)
    present_rows = rows[~missing]
    present = values[~missing]
    if len(present_rows):
        if pd.api.types.is_numeric_dtype(frame[col]):
            order = np.argsort(present.astype(float), kind="stable")
            sorted_vals = present.astype(float)[order]
            breaks = np.flatnonzero(np.diff(sorted_vals) > tolerances.get(col, 0.0) + 1e-12) + 1
            for chunk in np.split(present_rows[order], breaks):
                out += condition_clusters(frame, np.sort(chunk), rest, tolerances)
        else:
            for _, chunk in pd.Series(present_rows).groupby(pd.Series(present).astype(str).to_numpy(), sort=False):
                out += condition_clusters(frame, chunk.to_numpy(), rest, tolerances)
    return out


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union_all(self, members: np.ndarray) -> None:
        if len(members) < 2:
            return
        root = self.find(int(members[0]))
        for m in members[1:]:
            other = self.find(int(m))
            if other != root:
                self.parent[other] = root


def condition_tolerances(tol: Any, conditions: list[str], frame: pd.DataFrame) -> dict[str, float]:
    if tol is None:
        return {}
    if isinstance(tol, Mapping):
        unknown = [c for c in tol if c not in conditions]
        if unknown:
            raise SpecError(
                f"merge_sources: condition_tolerance names {format_columns(unknown)}, which are not "
                f"condition_columns ({format_columns(conditions)})."
            )
        out = {str(c): float(v) for c, v in tol.items()}
    else:
        out = {c: float(tol) for c in conditions if pd.api.types.is_numeric_dtype(frame[c])}
    bad = {c: v for c, v in out.items() if not v >= 0}
    if bad:
        raise SpecError(f"merge_sources: condition_tolerance must be >= 0, got {bad}.")
    return out
