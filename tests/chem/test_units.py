"""The shared unit registry: offset units convert, bad units are errors naming the column."""

from __future__ import annotations

import numpy as np
import pytest

from planner.chem._units import convert_units, unit_registry
from planner.exceptions import SpecError


def test_offset_and_scaled_units_convert():
    np.testing.assert_allclose(convert_units([0.0, 25.0], "degC", "K"), [273.15, 298.15])
    np.testing.assert_allclose(convert_units([1.0, 250.0], "mS/cm", "S/m"), [0.1, 25.0])
    assert unit_registry() is unit_registry()  # one registry for the package


@pytest.mark.parametrize(
    ("from_unit", "to_unit", "match"),
    [
        pytest.param("mS/cm", "parsecs_per_cow", r"lab\.csv: column 'sigma': unknown unit in 'mS/cm' -> 'parsecs_per_cow'", id="unknown"),
        pytest.param("mS/cm", "K", r"lab\.csv: column 'sigma': cannot convert 'mS/cm' to 'K': they measure different things", id="dimension"),
    ],
)
def test_bad_units_name_the_column(from_unit, to_unit, match):
    with pytest.raises(SpecError, match=match):
        convert_units([1.0], from_unit, to_unit, where="lab.csv", column="sigma")
