"""Checks of the tables handed to ``suggest``: observed inputs and outputs, pending experiments."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataQualityWarning, DataValidationError
from planner.validation import format_rows

__all__ = ["check_input_table", "check_observations", "drop_rows", "first_rows"]


def first_rows(labels: Any, k: int = 5) -> str:
    """The first ``k`` row labels for a message (``rows 0, 3``; ``row data.csv line 3`` where a
    campaign named its rows), by :func:`planner.validation.format_rows`."""
    labels = list(labels)
    return format_rows(labels[:k], limit=k)


def check_input_table(frame: Any, what: str, inputs: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """``frame`` with the design's input columns, numeric ones converted to numbers.

    Raises:
        DataValidationError: Not a DataFrame, an input column is missing, or a numeric input
            holds text.
    """
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype=object if c in categorical else float) for c in inputs})
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{what} lacks input column(s) {missing}; the design's inputs are {list(inputs)}. "
            "Rename the columns so they match the campaign inputs."
        )
    for c in inputs:
        if c not in categorical and not pd.api.types.is_numeric_dtype(frame[c]):
            converted = pd.to_numeric(frame[c], errors="coerce")
            bad = converted.isna() & frame[c].notna()
            if bad.any():
                row = first_rows(frame.index[bad.to_numpy()], 1)
                raise DataValidationError(
                    f"{what}: column {c!r} must be numeric, but {row} holds {frame[c][bad].iloc[0]!r}; "
                    "fix the value or declare the column categorical"
                )
            frame = frame.assign(**{c: converted})
    return frame


def drop_rows(frame: pd.DataFrame, bad: np.ndarray, message: str, notes: list[str]) -> pd.DataFrame:
    """``frame`` without the rows flagged in ``bad``; says how many went (warning and note)."""
    if bad.any():
        text = f"{message}: dropped {int(bad.sum())} row(s) (first {first_rows(frame.index[bad])})"
        warnings.warn(text, DataQualityWarning, stacklevel=4)
        notes.append(text)
        return frame[~bad]
    return frame


def check_observations(
    observed_X: Any,
    observed_y: Any,
    inputs: Sequence[str],
    categorical: Sequence[str],
    outputs: Sequence[str],
    notes: list[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Validated observations: the inputs (``n`` rows) and the raw outputs (``n x m``).

    Rows with a missing output are dropped (said in ``notes``); missing inputs are kept for
    the imputation step (:mod:`planner.active._impute`).
    """
    X = check_input_table(observed_X, "observed_X", inputs, categorical)
    if observed_y is None:
        if len(X):
            raise DataValidationError(
                f"observed_X has {len(X)} rows but observed_y is None; pass the measured {list(outputs)}"
            )
        return X, np.zeros((0, len(outputs)))
    if isinstance(observed_y, pd.Series):
        observed_y = observed_y.to_frame()
    if not isinstance(observed_y, pd.DataFrame):
        raise DataValidationError(
            f"observed_y must be a DataFrame with one column per target, got {type(observed_y).__name__}"
        )
    missing = [c for c in outputs if c not in observed_y.columns]
    if missing:
        raise DataValidationError(
            f"observed_y lacks column(s) {missing} (targets and constrained outcomes); it has {list(observed_y.columns)}"
        )
    if len(observed_y) != len(X):
        raise DataValidationError(
            f"observed_X has {len(X)} rows but observed_y has {len(observed_y)}; they must be aligned row by row"
        )
    Y = np.empty((len(X), len(outputs)))
    for j, c in enumerate(outputs):
        col = pd.to_numeric(observed_y[c], errors="coerce")
        bad = col.isna() & observed_y[c].notna()
        if bad.any():
            row = first_rows(observed_y.index[bad.to_numpy()], 1)
            raise DataValidationError(
                f"observed_y: column {c!r} must be numeric, but {row} holds {observed_y[c][bad].iloc[0]!r}"
            )
        Y[:, j] = col.to_numpy(dtype=float)
    if np.isinf(Y).any():
        r, j = np.argwhere(np.isinf(Y))[0]
        raise DataValidationError(
            f"observed_y: column {outputs[j]!r}, {first_rows(observed_y.index[[r]], 1)}, is infinite; "
            "remove the row or record a finite value"
        )
    bad_y = np.isnan(Y).any(axis=1)
    empty = [outputs[j] for j in range(len(outputs)) if np.isnan(Y[:, j]).any()]
    why = " (the outputs are modelled together, so a row needs all of them)" if len(outputs) > 1 else ""
    X = drop_rows(X, bad_y, f"observations with a missing value of {empty}{why}", notes)
    return X, Y[~bad_y]
