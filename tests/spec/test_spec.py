from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.exceptions import SpecError
from planner.spec import (
    CampaignSpec,
    DesignSpace,
    FractionGroup,
    InputSpec,
    LinearConstraint,
    TargetSpec,
    load_spec,
    parse_spec,
    render_campaign_yaml,
)


def minimal(**extra):
    data = {
        "version": 1,
        "name": "t",
        "inputs": [{"name": "a"}, {"name": "b"}, {"name": "salt", "role": "categorical"}],
        "targets": [{"name": "y", "direction": "max"}],
    }
    data.update(extra)
    return data


def test_spec_is_frozen():
    spec = parse_spec(minimal())
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param(minimal(colour="red"), r"unknown key 'colour'.*allowed keys there: .*budget", id="unknown-top-key"),
        pytest.param(
            minimal(inputs=[{"name": "a", "rol": "numeric"}]), r"unknown key 'inputs\[0\]\.rol'.*name, role, unit", id="unknown-nested-key"
        ),
        pytest.param(minimal(seed="abc"), r"'seed'.*got 'abc'.*whole number", id="wrong-type"),
        pytest.param(minimal(targets=[{"name": "y", "direction": "up"}]), r"'max' or 'min'.*got 'up'", id="bad-direction"),
        pytest.param(
            minimal(fraction_groups=[{"name": "solvent", "columns": ["a", "zz"]}]),
            r"fraction_groups 'solvent': column\(s\) \['zz'\] are not inputs",
            id="fraction-group-unknown-column",
        ),
        pytest.param(
            minimal(fraction_groups=[{"name": "g", "columns": ["a", "salt"]}]), r"must have role numeric", id="fraction-group-role"
        ),
        pytest.param(minimal(design_space={"ranges": {"a": [1, 0]}}), r"finite low < high", id="range-reversed"),
        pytest.param(minimal(design_space={"ranges": {"q": [0, 1]}}), r"'q' is not an input", id="range-unknown"),
        pytest.param(minimal(budget={"n_trials": 0}), r"budget.n_trials.*greater than or equal to 1", id="zero-budget"),
        pytest.param(minimal(targets=[{"name": "a"}]), r"both inputs and targets", id="input-is-target"),
        pytest.param({k: v for k, v in minimal().items() if k != "version"}, r"no 'version' key", id="no-version"),
        pytest.param(minimal(version=99), r"newer planner", id="future-version"),
        pytest.param(["not", "a", "mapping"], r"must be a YAML mapping", id="not-mapping"),
    ],
)
def test_bad_specs_name_the_key_and_the_fix(data, match):
    with pytest.raises(SpecError, match=match):
        parse_spec(data)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "campaign.yaml"
    path.write_text("version: 1\nname: x\ninputs:\n  - name: a\n   role: numeric\n")
    with pytest.raises(SpecError, match=r"not valid YAML at line \d+"):
        load_spec(path)


def full_spec() -> CampaignSpec:
    return CampaignSpec(
        name="cells",
        inputs=[InputSpec(name="x1"), InputSpec(name="x2"), InputSpec(name="x3", role="categorical")],
        fraction_groups=[FractionGroup(name="mix", columns=["x1", "x2"])],
        targets=[TargetSpec(name="y", direction="min", unit="K", lower=0.0)],
        design_space=DesignSpace(
            ranges={"x1": (0.0, 1.0), "x2": (0.0, 1.0)},
            choices={"x3": ["a", "b"]},
            constraints=[LinearConstraint(coefficients={"x1": 1, "x2": 1}, op="==", rhs=1)],
        ),
    )


def test_rendered_yaml_round_trips_and_has_comments():
    spec = full_spec()
    text = render_campaign_yaml(spec, notes={"x1": "numeric, inferred"})
    assert "# numeric, inferred" in text and text.startswith("version: 1")
    assert parse_spec(yaml.safe_load(text)) == spec


names = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(
    input_names=st.lists(names, min_size=1, max_size=5, unique=True),
    direction=st.sampled_from(["max", "min"]),
    seed=st.integers(0, 2**31 - 1),
    lows=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=5, max_size=5),
)
def test_round_trip_property(input_names, direction, seed, lows):
    ranges = {n: (lo, lo + 1.0) for n, lo in zip(input_names, lows)}
    spec = CampaignSpec(
        name="p",
        inputs=[InputSpec(name=n) for n in input_names],
        targets=[TargetSpec(name="target_y", direction=direction)],
        design_space=DesignSpace(ranges=ranges),
        seed=seed,
    )
    assert parse_spec(yaml.safe_load(render_campaign_yaml(spec))) == spec
