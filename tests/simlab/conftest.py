"""Fixtures for the virtual cell-design lab: space -> lab (real PyBaMM, built once per session)."""

from __future__ import annotations

import pytest

from planner.simlab import CellDesignLab, CellDesignSpace


@pytest.fixture(scope="session")
def space() -> CellDesignSpace:
    return CellDesignSpace()


@pytest.fixture(scope="session")
def lab(space: CellDesignSpace) -> CellDesignLab:
    """A noise-free DFN lab; the compiled model is memoised, so further labs reuse it."""
    return CellDesignLab(seed=0, space=space)


@pytest.fixture
def base_design() -> dict[str, float]:
    """The Marquis2019 cell's own geometry, discharged at 1C."""
    return {
        "pos_thickness_um": 100.0,
        "neg_thickness_um": 100.0,
        "pos_porosity": 0.3,
        "neg_porosity": 0.3,
        "pos_particle_radius_um": 10.0,
        "c_rate": 1.0,
    }
