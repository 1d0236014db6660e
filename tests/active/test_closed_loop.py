"""Closed loop against the virtual cell lab: suggest -> measure (PyBaMM) -> suggest again."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from planner.active import ContinuousDesign, suggest


@pytest.mark.slow
def test_closed_loop_with_the_virtual_cell_lab():
    from planner.simlab import CellDesignLab, initial_design

    lab = CellDesignLab(seed=0, noise=0.01)
    space = lab.space
    design = ContinuousDesign(bounds=dict(space.bounds))
    inputs = list(space.parameter_names)
    measured = lab.measure(initial_design(space, 6, seed=0))
    pending = None
    for _ in range(2):
        ok = measured[measured["status"] == "ok"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = suggest(
                ok[inputs],
                ok[["energy_density_wh_per_l", "temp_rise_k"]],
                design=design,
                targets=[("energy_density_wh_per_l", "max")],
                outcome_constraints=[("temp_rise_k", "<=", 15.0)],
                n=3,
                seed=len(ok),
                pending=pending,
            )
        assert design.violation(result.table[inputs]).max() <= 1e-9
        new = lab.measure(result.table[inputs])
        measured = pd.concat([measured, new], ignore_index=True)
    ok = measured[(measured["status"] == "ok") & (measured["temp_rise_k"] <= 15.0)]
    first = measured.iloc[:6]
    first_ok = first[(first["status"] == "ok") & (first["temp_rise_k"] <= 15.0)]
    # Six suggested cells later the best feasible energy density is at least the starting one.
    assert ok["energy_density_wh_per_l"].max() >= first_ok["energy_density_wh_per_l"].max()
    assert len(measured) == 12
