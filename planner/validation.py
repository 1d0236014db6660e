"""Validation helpers shared by every stage: input checks and row-naming messages.

A leaf module (it imports only the exceptions). User-facing errors go through these
helpers so that a message always names *where* (the dataset or file), *which* rows or
columns, *what* is wrong and *how* to fix it, instead of surfacing a pandas traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, SpecError

__all__ = [
    "as_frame",
    "check_choice",
    "check_fraction",
    "format_columns",
    "format_rows",
    "format_values",
    "numeric_column",
    "plain",
    "require_columns",
]

#: How many offending rows a message lists before it says "... and N more".
MAX_LISTED = 8


def format_values(values: Iterable[Any], limit: int = MAX_LISTED) -> str:
    """``'a', 'b', 'c' and 4 more`` — a short, quoted list for messages."""
    values = list(values)
    shown = ", ".join(repr(plain(v)) for v in values[:limit])
    if len(values) > limit:
        shown += f" and {len(values) - limit} more"
    return shown


def format_columns(columns: Iterable[Any], limit: int = 20) -> str:
    return format_values(columns, limit=limit)


def format_rows(
    rows: Sequence[Any],
    *,
    frame: pd.DataFrame | None = None,
    id_column: str | None = None,
    limit: int = MAX_LISTED,
) -> str:
    """Name rows by index label, adding the id column's value when one is known.

    ``rows 3 (ID=4), 17 (ID=24) and 5 more``.
    """
    rows = list(rows)
    parts = []
    for row in rows[:limit]:
        label = str(plain(row))
        if frame is not None and id_column is not None and id_column in frame.columns:
            try:
                label += f" ({id_column}={plain(frame.at[row, id_column])!r})"
            except (KeyError, ValueError):
                pass
        parts.append(label)
    text = ("row " if len(rows) == 1 else "rows ") + ", ".join(parts)
    if len(rows) > limit:
        text += f" and {len(rows) - limit} more"
    return text


def plain(value: Any) -> Any:
    """A numpy scalar as its Python value (numpy scalars print as ``np.float64(1.0)`` since numpy 2;
    messages and JSON want ``1.0``); anything else as it is."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def as_frame(data: Any, *, where: str = "data") -> pd.DataFrame:
    """Accept a DataFrame (returned as is) or anything ``pd.DataFrame`` takes; refuse the rest."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    try:
        return pd.DataFrame(data)
    except (TypeError, ValueError) as err:
        raise DataValidationError(
            f"{where}: expected a table (pandas DataFrame or 2-D array), got {type(data).__name__}. "
            "Pass a DataFrame, e.g. pandas.read_csv(path)."
        ) from err


def require_columns(
    frame: pd.DataFrame,
    columns: Iterable[str] | str | None,
    *,
    role: str,
    where: str = "data",
) -> list[str]:
    """Return ``columns`` as a list; raise naming the missing ones and the columns that exist."""
    if columns is None:
        return []
    if isinstance(columns, str):
        columns = [columns]
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{where}: {role} column(s) {format_columns(missing)} not found. "
            f"Available columns: {format_columns(frame.columns)}. "
            "Fix the column name in the campaign/spec, or rename the column in the data file."
        )
    return columns


def numeric_column(
    frame: pd.DataFrame,
    column: str,
    *,
    where: str = "data",
    id_column: str | None = None,
) -> pd.Series:
    """The column as float; raise listing rows whose values are not numbers.

    Missing values (empty cells) stay NaN; text such as ``'5 mS/cm'`` or ``'n/a?'`` is an error.
    """
    series = frame[column]
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & converted.isna()
    if bad.any():
        rows = list(series.index[bad])
        examples = format_values(series[bad].head(MAX_LISTED))
        raise DataValidationError(
            f"{where}: column {column!r} must be numeric, but {format_rows(rows, frame=frame, id_column=id_column)} "
            f"hold non-numeric values ({examples}). Fix: remove units or text from the cells "
            "(declare units in the spec instead) or leave them empty if unknown."
        )
    return converted.astype(float)


def check_choice(value: Any, choices: Sequence[Any], *, name: str, owner: str) -> None:
    """Raise :class:`SpecError` if ``value`` is not one of ``choices``."""
    if value not in choices:
        raise SpecError(
            f"{owner}: {name}={value!r} is not supported. Choose one of {format_values(choices, limit=20)}."
        )


def check_fraction(value: Any, *, name: str, owner: str, allow_none: bool = True, inclusive_one: bool = True) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        ok = 0.0 <= float(value) <= 1.0 if inclusive_one else 0.0 <= float(value) < 1.0
    if not ok:
        raise SpecError(f"{owner}: {name} must be a number between 0 and 1, got {value!r}.")


def call_quietly(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``func`` with numpy's floating-point warnings silenced (all-NaN slices, 0/0)."""
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(*args, **kwargs)
