"""CSV files written for people: safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (CSV/formula injection, OWASP): a sample name such
as ``=HYPERLINK("http://...")`` copied from a data source would run when a colleague opens the
export. Text cells that start so get a leading apostrophe, which spreadsheets show as text and
hide. Numbers are never touched (``-0.5`` stays a number), and the campaign's own stored files
are never written through here: they stay faithful to what was measured.
"""

from __future__ import annotations

import os

import pandas as pd

from planner.io._atomic import atomic_write_text

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a spreadsheet formula."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        is_text = series.map(lambda v: isinstance(v, str))
        risky = is_text & series.astype(str).str.startswith(FORMULA_PREFIXES)
        if risky.any():
            out[column] = series.astype(object)
            out.loc[risky, column] = "'" + series[risky].astype(str)
    safe_columns = [("'" + c) if isinstance(c, str) and c.startswith(FORMULA_PREFIXES) else c for c in out.columns]
    out.columns = safe_columns
    return out


def write_export_csv(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write ``frame`` (no index) atomically as a spreadsheet-safe CSV export."""
    atomic_write_text(path, spreadsheet_safe(frame).to_csv(index=False))
