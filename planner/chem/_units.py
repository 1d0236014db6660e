"""Units: one pint registry for the package, and conversion with messages that name the column.

A leaf: it imports only :mod:`planner.exceptions` and numpy (pint on first use).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from planner.exceptions import OptionalDependencyError, SpecError

__all__ = ["convert_units", "unit_registry"]


@lru_cache(maxsize=1)
def unit_registry() -> Any:
    """The shared ``pint.UnitRegistry`` (offset units such as degC convert to their base unit)."""
    try:
        import pint
    except ImportError as err:  # pragma: no cover - pint is a core dependency
        raise OptionalDependencyError("Unit conversion needs pint: pip install 'pint>=0.24'") from err
    registry = pint.UnitRegistry()
    registry.autoconvert_offset_to_baseunit = True
    return registry


def convert_units(values: Any, from_unit: str, to_unit: str, *, where: str = "data", column: str = "?") -> np.ndarray:
    """Convert numbers from ``from_unit`` to ``to_unit`` with pint (offset units such as degC work).

    Raises:
        SpecError: A unit pint does not know, or units of different dimensions.
    """
    import pint

    registry = unit_registry()
    try:
        quantity = registry.Quantity(np.asarray(values, dtype=float), registry.parse_units(from_unit))
        return np.asarray(quantity.to(registry.parse_units(to_unit)).magnitude, dtype=float)
    except pint.UndefinedUnitError as err:
        raise SpecError(
            f"{where}: column {column!r}: unknown unit in {from_unit!r} -> {to_unit!r} ({err}). "
            "Write units in pint syntax, e.g. 'S/cm', 'mS/cm', 'degC', 'K', 'mAh/g', 'percent'."
        ) from err
    except pint.DimensionalityError as err:
        raise SpecError(
            f"{where}: column {column!r}: cannot convert {from_unit!r} to {to_unit!r}: they measure different "
            "things. Fix the unit declared for this column."
        ) from err
    except (ValueError, TypeError, AttributeError) as err:
        raise SpecError(f"{where}: column {column!r}: cannot convert {from_unit!r} to {to_unit!r}: {err}.") from err
