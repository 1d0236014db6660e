"""Dataset-level cleaning and its log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.exceptions import DataValidationError, SpecError
from planner.sources import clean_dataset


def test_llzo_cleaning_records_each_drop(llzo):
    frame = pd.concat([llzo, llzo.iloc[[0]]], ignore_index=True)
    frame.loc[5, "log_cond"] = np.nan
    cleaned, log = clean_dataset(frame, target_columns=["log_cond"], max_column_missing=0.5)
    assert len(cleaned) == len(llzo) - 1
    counts = log.counts()
    assert counts["removed_exact_duplicate"] == 1
    dropped_cols = {a.columns[0] for a in log.filter("dropped_column")}
    assert dropped_cols == {c for c in llzo.columns if llzo[c].isna().mean() > 0.5}
    assert "la_dopant" in dropped_cols and "rel_dens_%" not in dropped_cols
    target_drop = [a for a in log.filter("dropped_row") if "target" in a.reason]
    assert target_drop[0].rows == ("5",)


def test_row_missingness_threshold():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, np.nan, np.nan], "y": [1.0, 2.0, 3.0]})
    cleaned, log = clean_dataset(frame, target_columns=["y"], max_row_missing=0.5)
    assert list(cleaned.index) == [0, 2]
    assert log.filter("dropped_row")[0].rows == ("1",)


def test_ignored_columns_in_duplicate_test():
    frame = pd.DataFrame({"row_no": [1, 2], "x": [1.0, 1.0]})
    cleaned, _ = clean_dataset(frame, ignore_in_duplicates=["row_no"])
    assert len(cleaned) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param(
            {"target_columns": ["nope"]}, DataValidationError, "target column\\(s\\) 'nope' not found", id="target"
        ),
        pytest.param(
            {"max_row_missing": 2}, SpecError, "max_row_missing must be a number between 0 and 1", id="fraction"
        ),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        clean_dataset(pd.DataFrame({"x": [1.0]}), **kwargs)
