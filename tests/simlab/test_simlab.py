"""The virtual cell-design lab against real PyBaMM: spec, initial designs, physics, failures, noise."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from planner.exceptions import DataValidationError, SimulationError, SpecError
from planner.simlab import CellDesignLab, CellDesignSpace, DesignObjective, DesignParameter, initial_design

OBJECTIVES = ["energy_density_wh_per_l", "temp_rise_k"]

# A thick, dense electrode pair at 3.5C: the DFN delivers ~540 Wh/L, the SPMe's electrolyte
# concentration goes negative within a minute.
DENSE_FAST = {
    "pos_thickness_um": 115.0,
    "neg_thickness_um": 90.0,
    "pos_porosity": 0.18,
    "neg_porosity": 0.17,
    "pos_particle_radius_um": 10.0,
    "c_rate": 3.5,
}


def _with(design: dict[str, float], **changes: object) -> dict[str, object]:
    return {**design, **changes}


# --- import hygiene -------------------------------------------------------------------------


def test_import_does_not_load_pybamm() -> None:
    code = textwrap.dedent(
        """
        import sys
        import planner.simlab
        from planner.simlab import CellDesignSpace
        CellDesignSpace().to_dict()
        heavy = [name for name in ("pybamm", "casadi", "pandas", "scipy") if name in sys.modules]
        print(",".join(heavy))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_missing_pybamm_raises_with_install_hint() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["pybamm"] = None  # makes `import pybamm` fail as if it were not installed
        from planner.exceptions import OptionalDependencyError
        from planner.simlab import CellDesignLab
        try:
            CellDesignLab()
        except OptionalDependencyError as err:
            print(err)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'pybamm" in result.stdout


# --- design space ---------------------------------------------------------------------------


def test_default_space_columns_are_snake_case_with_units(space: CellDesignSpace) -> None:
    assert space.parameter_names == (
        "pos_thickness_um",
        "neg_thickness_um",
        "pos_porosity",
        "neg_porosity",
        "pos_particle_radius_um",
        "c_rate",
    )
    assert space.objective_names == tuple(OBJECTIVES)
    assert [o.direction for o in space.objectives] == ["max", "min"]
    assert all(p.low < p.high for p in space.parameters)


def test_space_round_trips_through_plain_data(space: CellDesignSpace) -> None:
    data = space.to_dict()
    assert data["version"] == 1
    assert data["parameters"]["pos_thickness_um"] == {
        "low": 40.0,
        "high": 200.0,
        "unit": "um",
        "description": space.parameter("pos_thickness_um").description,
    }
    assert data["objectives"][0]["name"] == "energy_density_wh_per_l"
    assert CellDesignSpace.from_dict(data) == space


def test_with_bounds_returns_a_narrowed_copy(space: CellDesignSpace) -> None:
    narrowed = space.with_bounds(c_rate=(0.5, 3))
    assert narrowed.bounds["c_rate"] == (0.5, 3.0)
    assert space.bounds["c_rate"] == (0.2, 5.0)
    assert CellDesignSpace.from_dict(narrowed.to_dict()) == narrowed


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(lambda: DesignParameter("x_um", 2.0, 1.0, "um"), "low must be smaller", id="low>=high"),
        pytest.param(lambda: DesignParameter("x_um", 0.0, math.inf, "um"), "finite number", id="infinite"),
        pytest.param(lambda: DesignParameter("Pos Thickness", 0.0, 1.0, "um"), "snake_case", id="name"),
        pytest.param(lambda: DesignObjective("y_k", "maximize", "K"), "'max' or 'min'", id="direction"),
        pytest.param(
            lambda: CellDesignSpace().with_bounds(volume_l=(0.0, 1.0)), "unknown design parameter", id="unknown"
        ),
        pytest.param(
            lambda: CellDesignSpace(
                parameters=(DesignParameter("a_um", 0, 1, "um"), DesignParameter("a_um", 0, 2, "um"))
            ),
            "repeated",
            id="duplicate",
        ),
        pytest.param(
            lambda: CellDesignSpace.from_dict({"parameters": {"a_um": {"low": 0}}, "objectives": []}),
            "missing the field 'high'",
            id="missing-field",
        ),
        pytest.param(
            lambda: CellDesignSpace.from_dict({**CellDesignSpace().to_dict(), "version": 9}),
            "version 9 is not supported",
            id="version",
        ),
    ],
)
def test_invalid_space_raises_spec_error(make, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        make()


# --- initial designs ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sobol", "lhs"])
def test_initial_design_is_seeded_and_within_bounds(space: CellDesignSpace, method: str) -> None:
    first = initial_design(space, 13, seed=42, method=method)
    again = initial_design(space, 13, seed=42, method=method)
    other = initial_design(space, 13, seed=43, method=method)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert list(first.columns) == list(space.parameter_names)
    assert first.shape == (13, 6)
    for p in space.parameters:
        assert first[p.name].between(p.low, p.high).all()
        # space-filling: the points reach well into both halves of every range
        assert first[p.name].min() < p.low + 0.25 * (p.high - p.low)
        assert first[p.name].max() > p.high - 0.25 * (p.high - p.low)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"n": 0}, "positive integer", id="zero"),
        pytest.param({"n": 2.5}, "positive integer", id="float"),
        pytest.param({"n": 4, "method": "grid"}, "unknown initial-design method 'grid'", id="method"),
    ],
)
def test_initial_design_rejects_bad_arguments(space: CellDesignSpace, kwargs: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        initial_design(space, **kwargs)


# --- lab setup errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"parameter_set": "Marquis2020"}, "unknown PyBaMM parameter set 'Marquis2020'.*Marquis2019", id="set"
        ),
        pytest.param({"model": "P2D"}, "unknown cell model 'P2D'.*DFN", id="model"),
        pytest.param({"noise": -0.1}, r"noise must be .* \[0, 1\)", id="noise"),
        pytest.param({"n_layers": 0}, "n_layers must be a positive integer", id="layers"),
        pytest.param(
            {"space": CellDesignSpace().with_bounds(c_rate=(0.2, 50.0))}, "exceed what the simulator takes", id="limits"
        ),
        pytest.param(
            {"space": CellDesignSpace(objectives=(DesignObjective("cost_usd", "min", "USD"),))},
            r"cannot measure objectives \['cost_usd'\]",
            id="objective",
        ),
    ],
)
def test_bad_lab_setup_raises_simulation_error(kwargs: dict, match: str) -> None:
    with pytest.raises(SimulationError, match=match):
        CellDesignLab(**kwargs)


def test_noise_setter_validates(lab: CellDesignLab) -> None:
    with pytest.raises(SimulationError, match="noise must be"):
        lab.noise = 1.5
    assert lab.noise == 0.0


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        pytest.param(lambda d: {**d, "colour": 1.0}, r"unknown \['colour'\]", id="unknown"),
        pytest.param(lambda d: {k: v for k, v in d.items() if k != "c_rate"}, r"missing \['c_rate'\]", id="missing"),
    ],
)
def test_measure_rejects_wrong_columns(lab: CellDesignLab, base_design: dict, edit, match: str) -> None:
    design = edit(base_design)
    with pytest.raises(DataValidationError, match=match):
        lab.measure(pd.DataFrame([design]))
    with pytest.raises(DataValidationError, match=match):
        lab.measure_one(design)


def test_measure_rejects_non_dataframe(lab: CellDesignLab, base_design: dict) -> None:
    with pytest.raises(DataValidationError, match="must be a pandas DataFrame"):
        lab.measure([base_design])


def test_measure_empty_table_keeps_the_schema(lab: CellDesignLab, space: CellDesignSpace) -> None:
    result = lab.measure(pd.DataFrame(columns=list(space.parameter_names)))
    assert result.empty
    assert list(result.columns) == [*space.parameter_names, *lab.output_columns]


# --- physics --------------------------------------------------------------------------------


def test_base_design_gives_plausible_values(lab: CellDesignLab, base_design: dict) -> None:
    result = lab.measure_one(base_design)
    assert result["status"] == "ok" and result["failure_reason"] is None
    # Marquis2019 LiCoO2/graphite stack, 20 layers of 0.137 m x 0.207 m, at 1C
    assert 380 < result["energy_density_wh_per_l"] < 500
    assert 1 < result["temp_rise_k"] < 10
    assert 15 < result["capacity_ah"] < 19
    assert 3.5 < result["avg_voltage_v"] < 3.8  # between the 3.105 V cut-off and ~4.1 V start
    # the deliverable capacity stays below the theoretical capacity that defines 1C
    assert result["capacity_ah"] < result["current_a"] / base_design["c_rate"]
    assert 0.7 < result["discharge_time_h"] < 1.0
    assert result["energy_wh"] == pytest.approx(result["capacity_ah"] * result["avg_voltage_v"])
    assert 0 < result["wall_time_s"] < 1.0


def test_higher_c_rate_heats_more_and_delivers_less(lab: CellDesignLab, base_design: dict) -> None:
    rates = [0.5, 1.0, 2.0, 4.0]
    result = lab.measure(pd.DataFrame([_with(base_design, c_rate=c) for c in rates]))
    assert (result["status"] == "ok").all()
    assert result["temp_rise_k"].is_monotonic_increasing
    assert result["temp_rise_k"].iloc[-1] > 5 * result["temp_rise_k"].iloc[0]
    assert result["energy_density_wh_per_l"].is_monotonic_decreasing
    assert result["avg_voltage_v"].is_monotonic_decreasing


def test_thicker_positive_electrode_stores_more_energy_at_low_rate(lab: CellDesignLab, base_design: dict) -> None:
    # With a 200 um negative, the positive limits capacity up to ~230 um; at 0.2C the extra
    # positive capacity outgrows the extra stack volume, so Wh/L rises with its thickness.
    designs = [_with(base_design, neg_thickness_um=200.0, pos_thickness_um=t, c_rate=0.2) for t in (60.0, 100.0, 140.0)]
    result = lab.measure(pd.DataFrame(designs))
    assert (result["status"] == "ok").all()
    assert result["capacity_ah"].is_monotonic_increasing
    assert result["energy_density_wh_per_l"].is_monotonic_increasing


# --- failures are records -------------------------------------------------------------------


def test_infeasible_rows_fail_and_the_rest_of_the_batch_succeeds(lab: CellDesignLab, base_design: dict) -> None:
    designs = pd.DataFrame(
        [
            base_design,
            _with(base_design, pos_thickness_um=500.0),
            _with(base_design, neg_porosity=float("nan")),
            _with(base_design, c_rate="fast"),
            _with(base_design, c_rate=2.0),
        ],
        index=pd.Index(["a", "b", "c", "d", "e"], name="experiment"),
    )
    result = lab.measure(designs)
    assert list(result.index) == ["a", "b", "c", "d", "e"]
    assert list(result.columns) == [*lab.space.parameter_names, *lab.output_columns]
    assert list(result["status"]) == ["ok", "failed", "failed", "failed", "ok"]
    assert result.loc["b", "failure_reason"] == "pos_thickness_um=500.0 is outside the design space [40, 200] um"
    assert "neg_porosity must be finite, got nan" in result.loc["c", "failure_reason"]
    assert "c_rate must be a number in 1/h, got 'fast'" in result.loc["d", "failure_reason"]
    assert result.loc[["b", "c", "d"], OBJECTIVES].isna().all().all()
    assert result.loc[["a", "e"], OBJECTIVES].notna().all().all()
    assert result.loc["b", "pos_thickness_um"] == 500.0  # inputs are echoed as given


def test_measure_one_reports_wrong_types_as_failures(lab: CellDesignLab, base_design: dict) -> None:
    result = lab.measure_one(_with(base_design, pos_porosity=None, c_rate=True))
    assert result["status"] == "failed"
    assert "pos_porosity must be a number" in result["failure_reason"]
    assert "c_rate must be a number" in result["failure_reason"]
    assert math.isnan(result["energy_density_wh_per_l"])


def test_solver_failure_becomes_a_record(base_design: dict) -> None:
    # Thick, dense electrodes at 10C: the voltage starts below the cut-off, PyBaMM raises.
    lab = CellDesignLab(space=CellDesignSpace().with_bounds(c_rate=(0.2, 20.0)))
    dense = _with(
        base_design,
        pos_thickness_um=200.0,
        neg_thickness_um=200.0,
        pos_porosity=0.15,
        neg_porosity=0.15,
        pos_particle_radius_um=20.0,
        c_rate=10.0,
    )
    result = lab.measure(pd.DataFrame([dense, base_design]))
    assert list(result["status"]) == ["failed", "ok"]
    reason = result["failure_reason"].iloc[0]
    assert "cannot sustain 10C" in reason and "non-positive at initial conditions" in reason
    assert "with inputs" not in reason  # PyBaMM's input dump is trimmed


def test_measure_one_matches_measure(lab: CellDesignLab, base_design: dict) -> None:
    one = lab.measure_one(base_design)
    row = lab.measure(pd.DataFrame([base_design])).iloc[0]
    for name in [*OBJECTIVES, "capacity_ah", "energy_wh", "discharge_time_h"]:
        assert one[name] == pytest.approx(row[name], rel=1e-9)


def test_lab_pickles_for_worker_processes(lab: CellDesignLab, base_design: dict) -> None:
    before = lab.measure_one(base_design)
    copy = pickle.loads(pickle.dumps(lab))
    assert copy.measure_one(base_design)["energy_wh"] == pytest.approx(before["energy_wh"], rel=1e-9)


# --- noise ----------------------------------------------------------------------------------


def test_noise_is_reproducible_with_a_seed(space: CellDesignSpace) -> None:
    designs = initial_design(space, 4, seed=5)
    exact = CellDesignLab(seed=1).measure(designs)
    noisy_1 = CellDesignLab(seed=1, noise=0.05).measure(designs)
    noisy_2 = CellDesignLab(seed=1, noise=0.05).measure(designs)
    noisy_3 = CellDesignLab(seed=2, noise=0.05).measure(designs)
    assert (exact["status"] == "ok").all()
    pd.testing.assert_frame_equal(noisy_1.drop(columns="wall_time_s"), noisy_2.drop(columns="wall_time_s"))
    assert not np.allclose(noisy_1[OBJECTIVES], noisy_3[OBJECTIVES])
    relative = noisy_1[OBJECTIVES] / exact[OBJECTIVES] - 1
    assert (relative.abs() > 0).all().all()
    assert (relative.abs() < 0.25).all().all()  # 5 sigma of 5 %
    # only objectives are noisy; the other outputs stay exact
    pd.testing.assert_series_equal(noisy_1["capacity_ah"], exact["capacity_ah"])


def test_repeated_measurements_on_one_noisy_lab_differ(base_design: dict) -> None:
    lab = CellDesignLab(seed=3, noise=0.02)
    first, second = lab.measure_one(base_design), lab.measure_one(base_design)
    assert first["energy_density_wh_per_l"] != second["energy_density_wh_per_l"]


# --- model validity (slow) ------------------------------------------------------------------


@pytest.mark.slow
def test_spme_outside_its_validity_is_a_failure_where_dfn_delivers() -> None:
    dfn = CellDesignLab(model="DFN").measure_one(DENSE_FAST)
    spme = CellDesignLab(model="SPMe").measure_one(DENSE_FAST)
    assert dfn["status"] == "ok" and dfn["energy_density_wh_per_l"] > 350
    assert spme["status"] == "failed"
    assert "outside its validity" in spme["failure_reason"] and "model='DFN'" in spme["failure_reason"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["SPMe", "DFN"])
def test_reused_symbolic_mesh_matches_a_fresh_fixed_mesh(model: str) -> None:
    """The one-build trick (geometry as inputs on a symbolic mesh) must not change the physics."""
    import pybamm

    from planner.simlab._cell import built_cell

    design = {**DENSE_FAST, "pos_porosity": 0.33, "neg_porosity": 0.24, "c_rate": 4.4, "pos_thickness_um": 86.0}
    cell = built_cell("Marquis2019", model, 20)
    reused = cell.solve(design)

    c = cell.constants
    inputs = cell.inputs(design)
    stack_m = c.n_layers * c.stack_unit_thickness_m(
        inputs["Negative electrode thickness [m]"], inputs["Positive electrode thickness [m]"]
    )
    values = pybamm.ParameterValues("Marquis2019")
    values.set_initial_state(1.0)  # as the lab does: full charge of the set's own cell, then the design
    values.update(
        {
            **inputs,
            "Negative current collector thickness [m]": c.neg_foil_thickness_m / 2,
            "Positive current collector thickness [m]": c.pos_foil_thickness_m / 2,
            "Number of electrodes connected in parallel to make a cell": c.n_layers,
            "Cell volume [m3]": c.area_m2 * stack_m,
            "Cell cooling surface area [m2]": 2 * (c.area_m2 + (0.137 + 0.207) * stack_m),
        }
    )
    options = {"thermal": "lumped", "calculate discharge energy": "true"}
    model_obj = getattr(pybamm.lithium_ion, model)(options)
    solution = pybamm.Simulation(model_obj, parameter_values=values).solve([0, 1.25 * 3600 / design["c_rate"]])
    energy_wh = solution["Discharge energy [W.h]"].entries[-1]
    temperature = solution["Volume-averaged cell temperature [K]"].entries
    assert reused["energy_wh"] == pytest.approx(energy_wh, rel=5e-3)
    assert reused["temp_rise_k"] == pytest.approx(temperature.max() - temperature[0], rel=3e-2)
