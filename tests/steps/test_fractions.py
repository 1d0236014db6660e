"""Fraction groups: validation on real solvent mixtures, violations, the pipeline step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from planner.chem import FractionGroup, check_fraction_groups, validate_fraction_groups
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.steps import FractionGroupValidator

SOLVENTS = {"solvent": ["Solvent1_volFraction", "Solvent2_volFraction"]}


def test_btz_solvent_fractions_sum_to_one(btz_pool):
    assert len(btz_pool) == 218
    assert check_fraction_groups(btz_pool, SOLVENTS, tolerance=1e-9).empty
    validate_fraction_groups(btz_pool, SOLVENTS)


def test_perturbed_rows_are_named(btz_pool):
    bad = btz_pool.copy()
    bad.loc[[3, 40], "Solvent2_volFraction"] += 0.05
    bad.loc[7, "Solvent1_volFraction"] = np.nan
    with pytest.raises(DataValidationError) as info:
        validate_fraction_groups(bad, SOLVENTS, where="btz_pool_all_218.csv")
    text = str(info.value)
    assert text.startswith("btz_pool_all_218.csv: 3 fraction-group violation(s)")
    assert "row 3: group 'solvent' sums to 1.05, expected 1 ± 0.001" in text
    assert "row 7: group 'solvent' empty cell(s) in 'Solvent1_volFraction'" in text


def test_violation_kinds():
    frame = pd.DataFrame({"a": [0.5, 1.2, np.nan, np.nan, 0.3], "b": [0.5, -0.2, np.nan, 1.0, 0.3]})
    table = check_fraction_groups(frame, {"g": ["a", "b"]}, tolerance=0.01)
    problems = {(r.row, r.problem) for r in table.itertuples()}
    assert problems == {(1, "negative"), (2, "missing"), (3, "missing"), (4, "sum")}
    relaxed = check_fraction_groups(frame, {"g": ["a", "b"]}, tolerance=0.01, missing_as_zero=True)
    assert {(r.row, r.problem) for r in relaxed.itertuples()} == {(1, "negative"), (2, "missing"), (4, "sum")}


def test_spec_like_objects_and_totals():
    @dataclass
    class SpecGroup:  # duck-typed like the campaign spec's FractionGroup
        name: str
        columns: list
        total: float = 100.0
        tolerance: float = 0.5

    frame = pd.DataFrame({"x": [60.0, 50.0], "y": [40.0, 40.0]})
    table = check_fraction_groups(frame, [SpecGroup("percent", ["x", "y"])])
    assert table["row"].tolist() == [1] and table["expected"].tolist() == [100.0]
    assert check_fraction_groups(frame, [FractionGroup("p", ("x", "y"), total=100.0, tolerance=15.0)]).empty


def test_validator_actions():
    frame = pd.DataFrame({"a": [0.5, 0.6], "b": [0.5, 0.6]})
    groups = {"g": ["a", "b"]}
    with pytest.raises(DataValidationError, match="row 1: group 'g' sums to 1.2"):
        FractionGroupValidator(groups=groups).fit(frame)
    with pytest.warns(DataQualityWarning, match="1 fraction-group violation"):
        FractionGroupValidator(groups=groups, action="warn").fit(frame)
    step = FractionGroupValidator(groups=groups, action="normalize").fit(frame)
    assert step.n_violations_ == 1
    with pytest.warns(
        DataQualityWarning,
        match="renormalized group 'g' to sum to 1 in 1 row\\(s\\) \\(e.g. row 1, which summed to 1.2\\)",
    ):
        out = step.transform(frame)
    np.testing.assert_allclose(out[["a", "b"]].sum(axis=1), 1.0)
    assert out.loc[1, "a"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("groups", "error", "match"),
    [
        pytest.param({"g": ["a"]}, SpecError, "needs at least two columns", id="one-col"),
        pytest.param({"g": ["a", "zz"]}, DataValidationError, "'zz' not found", id="missing"),
        pytest.param(["a", "b"], SpecError, "expected \\{name: \\[columns\\]\\}", id="bad-type"),
    ],
)
def test_group_errors(groups, error, match):
    with pytest.raises(error, match=match):
        check_fraction_groups(pd.DataFrame({"a": [1.0], "b": [0.0]}), groups)


def test_text_in_a_fraction_column_names_row_and_value():
    frame = pd.DataFrame({"a": ["0.5", "half"], "b": [0.5, 0.5]})
    with pytest.raises(DataValidationError, match="column 'a' row 1 holds 'half'"):
        check_fraction_groups(frame, {"g": ["a", "b"]})


def test_validator_needs_a_dataframe():
    with pytest.raises(DataValidationError, match="needs a pandas DataFrame"):
        FractionGroupValidator(groups={"g": ["a", "b"]}).fit(np.ones((2, 2)))
