"""One FractionGroup and one LinearConstraint, shared by the campaign spec, the checks and the engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from planner.chem import FractionGroup, LinearConstraint, as_fraction_groups, check_fraction_groups
from planner.exceptions import SpecError
from planner.spec import CampaignSpec, dump_spec, parse_spec

SPEC = {
    "version": 1,
    "name": "electrolyte",
    "inputs": [{"name": "ec"}, {"name": "dmc"}, {"name": "salt"}],
    "targets": [{"name": "conductivity"}],
    "fraction_groups": [{"name": "solvent", "columns": ["ec", "dmc"]}],
    "design_space": {
        "ranges": {"salt": [0.5, 2.0]},
        "constraints": [{"coefficients": {"ec": 1, "dmc": 1}, "op": "<=", "rhs": 1}],
    },
}


def _with_constraint(constraint: dict) -> dict:
    return {**SPEC, "design_space": {**SPEC["design_space"], "constraints": [constraint]}}


def test_the_spec_holds_the_chem_records():
    from planner.active import LinearConstraint as ActiveConstraint
    from planner.spec import FractionGroup as SpecGroup
    from planner.spec import LinearConstraint as SpecConstraint

    assert SpecGroup is FractionGroup and SpecConstraint is LinearConstraint and ActiveConstraint is LinearConstraint
    spec = parse_spec(SPEC)
    assert spec.fraction_groups == [FractionGroup("solvent", ["ec", "dmc"])]
    assert spec.design_space.constraints == [LinearConstraint({"ec": 1.0, "dmc": 1.0}, "<=", 1.0)]


def test_a_campaign_yaml_written_with_operator_still_loads_and_is_rewritten_with_op():
    """``operator:`` is how campaign.yaml spelled it (README, planner init's comment) before the two classes merged."""
    old = parse_spec(_with_constraint({"coefficients": {"ec": 1, "dmc": 1}, "operator": "<=", "rhs": 1}))
    assert old == parse_spec(SPEC)
    dumped = dump_spec(old)["design_space"]["constraints"]
    assert dumped == [{"coefficients": {"ec": 1.0, "dmc": 1.0}, "op": "<=", "rhs": 1.0}]
    assert parse_spec(yaml.safe_load(yaml.safe_dump(dump_spec(old)))) == old


@pytest.mark.parametrize(
    ("constraint", "match"),
    [
        ({"coefficients": {"ec": 1}, "op": "<=", "operator": "<=", "rhs": 1}, "given twice"),
        ({"coefficients": {"ec": 1}, "op": "!=", "rhs": 1}, "op must be '==', '<=' or '>='"),
        ({"coefficients": {"ec": 1}, "op": "<=", "rhs": 1, "sense": "max"}, "unknown key 'sense'"),
        ({"coefficients": {"ec": 1}, "rhs": 1}, r"missing key\(s\) \['op'\]"),
        ({"coefficients": {}, "op": "<=", "rhs": 1}, "non-empty mapping"),
        ({"coefficients": {"ec": "a lot"}, "op": "<=", "rhs": 1}, "coefficient of 'ec' must be a number"),
        ({"coefficients": {"nope": 1}, "op": "<=", "rhs": 1}, r"\['nope'\] are not inputs"),
    ],
)
def test_bad_constraints_name_the_key_and_the_fix(constraint, match):
    with pytest.raises(SpecError, match="design_space.constraints\\[0\\]") as info:
        parse_spec(_with_constraint(constraint))
    assert __import__("re").search(match, str(info.value)), str(info.value)


@pytest.mark.parametrize(
    ("group", "match"),
    [
        ({"name": "solvent", "columns": ["ec"]}, "needs at least two columns"),
        ({"name": "solvent", "columns": ["ec", "dmc"], "tolerance": 0}, "tolerance must be > 0"),
        ({"name": "solvent", "columns": "ec,dmc"}, "must be a list of column names"),
        ({"name": "solvent", "columns": ["ec", "dmc"], "weight": 1}, "unknown key 'weight'"),
        ({"columns": ["ec", "dmc"]}, r"missing key\(s\) \['name'\]"),
    ],
)
def test_bad_fraction_groups_are_spec_errors(group, match):
    with pytest.raises(SpecError, match=match):
        parse_spec({**SPEC, "fraction_groups": [group]})


def test_fraction_group_strips_names_and_round_trips():
    group = FractionGroup(" solvent ", [" ec", "dmc "], total=100, molecules=["s1", "s2"])
    assert group == FractionGroup("solvent", ("ec", "dmc"), 100.0, 1e-3, ("s1", "s2"))
    assert group.columns == ["ec", "dmc"] and group.molecules == ["s1", "s2"]
    assert FractionGroup(**group.to_dict()) == group
    with pytest.raises(AttributeError):
        group.total = 2.0  # type: ignore[misc]


def test_as_fraction_groups_accepts_a_mapping_records_and_spec_groups_with_a_tolerance_override():
    spec_groups = parse_spec(SPEC).fraction_groups
    assert as_fraction_groups({"solvent": ["ec", "dmc"]}) == list(spec_groups)
    assert as_fraction_groups(spec_groups, tolerance=0.05)[0].tolerance == 0.05
    with pytest.raises(SpecError, match="expected \\{name: \\[columns\\]\\} or FractionGroup"):
        as_fraction_groups([42])


def test_check_fraction_groups_uses_the_spec_group_tolerance():
    frame = pd.DataFrame({"ec": [0.3, 0.5, 0.7], "dmc": [0.7, 0.49, 0.2]})
    tight = parse_spec(SPEC).fraction_groups
    loose = parse_spec({**SPEC, "fraction_groups": [{"name": "solvent", "columns": ["ec", "dmc"], "tolerance": 0.02}]}).fraction_groups
    assert check_fraction_groups(frame, tight)["row"].tolist() == [1, 2]
    assert check_fraction_groups(frame, loose)["row"].tolist() == [2]


def test_linear_constraint_spellings_describe_and_violation():
    c = LinearConstraint({"ec": 1, "dmc": 2}, "le", 1)
    assert c.op == "<=" and c.describe() == "ec + 2*dmc <= 1"
    frame = pd.DataFrame({"ec": [0.2, 0.5], "dmc": [0.3, 0.5]})
    np.testing.assert_allclose(c.violation(frame), [0.0, 0.5])
    np.testing.assert_allclose(LinearConstraint({"ec": 1}, "==", 0.3).violation(frame), [0.1, 0.2])
    with pytest.raises(SpecError, match="rhs must be a number"):
        LinearConstraint({"ec": 1}, "<=", "one")


def test_campaign_spec_constructed_in_python_takes_records():
    spec = CampaignSpec(
        name="x",
        inputs=[{"name": "a"}, {"name": "b"}],
        targets=[{"name": "y"}],
        fraction_groups=[FractionGroup("g", ["a", "b"])],
        design_space={"constraints": [LinearConstraint({"a": 1, "b": 1}, "==", 1)]},
    )
    assert spec.fraction_groups[0].columns == ["a", "b"]
