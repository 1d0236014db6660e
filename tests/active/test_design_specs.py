"""Design-space specifications: validated at construction, frozen, clear errors."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from planner.active import ContinuousDesign, LinearConstraint, OutcomeConstraint, PoolDesign, Target
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError


def test_import_planner_active_stays_light():
    code = (
        "import sys, json\nimport planner.active as a\n"
        "a.PoolDesign; a.ContinuousDesign\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert not loaded & {"torch", "botorch", "gpytorch", "sklearn", "ray"}


def test_pool_design_reports_nan_rows_and_drops_them(agnp_pool, agnp_inputs):
    pool = agnp_pool[agnp_inputs].copy()
    pool.iloc[[3, 7], 1] = np.nan
    with pytest.warns(DataQualityWarning, match=r"2 candidate row\(s\) have a missing or infinite input.*Qpva"):
        design = PoolDesign(pool)
    assert design.report.n_nan_rows == 2 and design.report.nan_rows == (3, 7)
    assert len(design.valid_candidates) == len(pool) - 2


def test_pool_design_raise_mode_names_rows(agnp_pool, agnp_inputs):
    pool = agnp_pool[agnp_inputs].copy()
    pool.iloc[5, 0] = np.nan
    with pytest.raises(DataValidationError, match=r"first rows \[5\].*on_invalid='drop'"):
        PoolDesign(pool, on_invalid="raise")


def test_pool_constraint_violations_are_reported(oer_plate, oer_fractions):
    pool = oer_plate[oer_fractions].copy()
    pool.iloc[0, 0] += 0.05  # fractions no longer sum to 1
    total = LinearConstraint({c: 1.0 for c in oer_fractions}, "==", 1.0)
    with pytest.warns(DataQualityWarning, match=r"1 candidate row\(s\) break .*== 1.*first rows \[0\]"):
        design = PoolDesign(pool, constraints=[total])
    assert design.report.n_violating_rows == 1 and design.report.n_valid == len(pool) - 1


def test_pool_where_no_row_satisfies_the_constraints_is_an_error(oer_plate, oer_fractions):
    impossible = LinearConstraint({c: 1.0 for c in oer_fractions}, "==", 2.0)
    with pytest.raises(DataValidationError, match="no candidate in the pool is usable"):
        PoolDesign(oer_plate[oer_fractions], constraints=[impossible])


def test_pool_missing_input_column(agnp_pool):
    with pytest.raises(
        DataValidationError, match=r"lacks input column\(s\) \['temperature'\].*match the campaign inputs"
    ):
        PoolDesign(agnp_pool, inputs=["temperature"])


def test_pool_text_in_numeric_column():
    pool = pd.DataFrame({"x": [1.0, 2.0], "solvent": ["DME", "DOX"]})
    with pytest.raises(DataValidationError, match=r"\['solvent'\] were declared numeric but hold text"):
        PoolDesign(pool, categorical=())


def test_continuous_simplex_spec_and_feasibility():
    design = ContinuousDesign.simplex(
        ["ni", "fe", "co"], extra_bounds={"temp": (20, 80)}, categorical={"salt": ["A", "B"]}
    )
    assert design.inputs == ("ni", "fe", "co", "temp", "salt")
    a_eq, b_eq, a_ub, _ = design.constraint_matrices()
    np.testing.assert_array_equal(a_eq, [[1, 1, 1, 0]])
    assert b_eq.tolist() == [1.0] and a_ub.shape == (0, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        design.n_discrete = 10  # type: ignore[misc]


def test_continuous_constraints_nobody_satisfies_is_a_clear_error():
    with pytest.raises(
        SpecError, match=r"no point satisfies the design constraints.*loosen a constraint or widen a bound"
    ):
        ContinuousDesign.simplex(
            ["a", "b"], constraints=[LinearConstraint({"a": 1.0}, ">=", 0.7), LinearConstraint({"b": 1.0}, ">=", 0.7)]
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"bounds": {"x": (1.0, 0.0)}}, "lo < hi", id="reversed-bounds"),
        pytest.param({"bounds": {}}, "at least one numeric input", id="no-bounds"),
        pytest.param(
            {"bounds": {"x": (0, 1)}, "constraints": [LinearConstraint({"y": 1.0}, "<=", 1)]},
            r"names \['y'\]",
            id="unknown-column",
        ),
        pytest.param(
            {"bounds": {"x": (0, 1)}, "categorical": {"x": ["a"]}}, "both numeric", id="numeric-and-categorical"
        ),
    ],
)
def test_continuous_design_errors(kwargs, match):
    with pytest.raises(SpecError, match=match):
        ContinuousDesign(**kwargs)


def test_targets_and_constraints_validate():
    assert Target("y", "minimize").direction == "min" and Target("y", "min").sign == -1.0
    with pytest.raises(SpecError, match="direction must be 'max' or 'min'"):
        Target("y", "up")
    with pytest.raises(SpecError, match="operator must be '<=' or '>='"):
        OutcomeConstraint("temp_rise", "<", 10)
    assert LinearConstraint({"a": 1, "b": 2}, "<=", 3).describe() == "a + 2*b <= 3"
