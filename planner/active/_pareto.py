"""Pareto fronts of observations (numpy and pandas only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from planner.active._specs import Target, parse_targets
from planner.exceptions import DataValidationError

__all__ = ["pareto_mask", "pareto_front"]


def pareto_mask(Y: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``Y`` (``n x m``, larger is better), shape ``n`` booleans.

    Duplicated non-dominated rows are all kept.
    """
    Y = np.asarray(Y, dtype=float)
    mask = np.ones(len(Y), dtype=bool)
    for i in range(len(Y)):
        if mask[i]:
            dominated = np.all(Y <= Y[i], axis=1) & np.any(Y < Y[i], axis=1)
            mask &= ~dominated
    return mask


def pareto_front(
    observed_y: pd.DataFrame,
    targets: Sequence[tuple[str, str]] | Mapping[str, str] | Sequence[Target],
) -> pd.DataFrame:
    """The non-dominated rows of ``observed_y`` for ``targets`` (rows with a missing target
    are left out), with the original index labels.

    Raises:
        DataValidationError: A target column is missing.
    """
    specs = parse_targets(targets)
    missing = [t.name for t in specs if t.name not in observed_y.columns]
    if missing:
        raise DataValidationError(f"observed_y lacks target column(s) {missing}; it has {list(observed_y.columns)}")
    values = observed_y[[t.name for t in specs]].apply(pd.to_numeric, errors="coerce")
    values = values.dropna()
    Y = values.to_numpy(dtype=float) * np.array([t.sign for t in specs])
    return observed_y.loc[values.index[pareto_mask(Y)]]
