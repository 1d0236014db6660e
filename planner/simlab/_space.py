"""The design space of the virtual cell-design lab, as frozen, serialisable data."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from planner.exceptions import SpecError

__all__ = ["CellDesignSpace", "DesignObjective", "DesignParameter"]

SPACE_FORMAT_VERSION = 1

# CSV-friendly column names: lower snake_case, starting with a letter.
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise SpecError(
            f"{what} name must be lower snake_case starting with a letter (it becomes a CSV column), "
            f"got {name!r}; e.g. 'pos_thickness_um'"
        )


@dataclass(frozen=True)
class DesignParameter:
    """One controllable input of an experiment: a continuous range with a unit.

    Attributes:
        name: Column name, snake_case with a unit suffix, e.g. ``"pos_thickness_um"``.
        low: Smallest allowed value, in ``unit``.
        high: Largest allowed value, in ``unit``; must exceed ``low``.
        unit: Human-readable unit, e.g. ``"um"``; ``"1"`` for dimensionless.
        description: One line saying what the parameter is.

    Raises:
        SpecError: If the name is not snake_case or the bounds are not finite with ``low < high``.
    """

    name: str
    low: float
    high: float
    unit: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "parameter")
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SpecError(f"parameter {self.name!r}: {bound} must be a finite number, got {value!r}")
            object.__setattr__(self, bound, float(value))
        if not self.low < self.high:
            raise SpecError(
                f"parameter {self.name!r}: low must be smaller than high, got low={self.low!r}, "
                f"high={self.high!r}; swap them or widen the range"
            )
        if not isinstance(self.unit, str) or not isinstance(self.description, str):
            raise SpecError(f"parameter {self.name!r}: unit and description must be strings")

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in ``[low, high]``, allowing a relative rounding slack of 1e-9."""
        slack = 1e-9 * (self.high - self.low)
        return self.low - slack <= value <= self.high + slack


@dataclass(frozen=True)
class DesignObjective:
    """One measured outcome to optimise.

    Attributes:
        name: Column name, snake_case with a unit suffix, e.g. ``"temp_rise_k"``.
        direction: ``"max"`` to maximise, ``"min"`` to minimise.
        unit: Human-readable unit, e.g. ``"Wh/L"``.
        description: One line saying how the value is obtained.

    Raises:
        SpecError: If the name is not snake_case or the direction is not ``"max"``/``"min"``.
    """

    name: str
    direction: Literal["max", "min"]
    unit: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "objective")
        if self.direction not in ("max", "min"):
            raise SpecError(
                f"objective {self.name!r}: direction must be 'max' or 'min', got {self.direction!r}"
            )
        if not isinstance(self.unit, str) or not isinstance(self.description, str):
            raise SpecError(f"objective {self.name!r}: unit and description must be strings")


DEFAULT_PARAMETERS: tuple[DesignParameter, ...] = (
    DesignParameter(
        "pos_thickness_um", 40.0, 200.0, "um", "Positive electrode (LiCoO2 in Marquis2019) coating thickness"
    ),
    DesignParameter(
        "neg_thickness_um", 40.0, 200.0, "um", "Negative electrode (graphite in Marquis2019) coating thickness"
    ),
    DesignParameter(
        "pos_porosity",
        0.15,
        0.45,
        "1",
        "Electrolyte volume fraction of the positive electrode; binder/additive fraction is held at the "
        "parameter set's value, the active material takes the rest",
    ),
    DesignParameter(
        "neg_porosity",
        0.15,
        0.45,
        "1",
        "Electrolyte volume fraction of the negative electrode; binder/additive fraction is held at the "
        "parameter set's value, the active material takes the rest",
    ),
    DesignParameter("pos_particle_radius_um", 1.0, 20.0, "um", "Radius of the positive active-material particles"),
    DesignParameter(
        "c_rate",
        0.2,
        5.0,
        "1/h",
        "Constant discharge current in multiples of the design's theoretical capacity (1C empties it in 1 h)",
    ),
)

DEFAULT_OBJECTIVES: tuple[DesignObjective, ...] = (
    DesignObjective(
        "energy_density_wh_per_l",
        "max",
        "Wh/L",
        "Discharge energy divided by the electrode-stack volume (electrodes, separator, half of each foil)",
    ),
    DesignObjective(
        "temp_rise_k",
        "min",
        "K",
        "Largest rise of the volume-averaged cell temperature over the initial temperature during discharge",
    ),
)


@dataclass(frozen=True)
class CellDesignSpace:
    """The experiments the lab can run and the outcomes it reports; frozen, change by copying.

    The defaults describe the virtual cell-design lab (:class:`~planner.simlab.CellDesignLab`):
    six continuous inputs and two objectives. Change bounds with :meth:`with_bounds`, which
    returns a new space.

    Attributes:
        parameters: The design inputs, in column order.
        objectives: The measured objectives, in column order.

    Raises:
        SpecError: If there are no parameters or objectives, or a name appears twice.

    Example:
        >>> space = CellDesignSpace().with_bounds(c_rate=(0.5, 3.0))
        >>> space.bounds["c_rate"]
        (0.5, 3.0)
    """

    parameters: tuple[DesignParameter, ...] = field(default=DEFAULT_PARAMETERS)
    objectives: tuple[DesignObjective, ...] = field(default=DEFAULT_OBJECTIVES)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", tuple(self.parameters))
        object.__setattr__(self, "objectives", tuple(self.objectives))
        if not self.parameters or not self.objectives:
            raise SpecError(
                "a design space needs at least one parameter and one objective, got "
                f"{len(self.parameters)} parameters and {len(self.objectives)} objectives"
            )
        for item in (*self.parameters, *self.objectives):
            if not isinstance(item, DesignParameter | DesignObjective):
                raise SpecError(
                    f"parameters must be DesignParameter and objectives DesignObjective objects, got {item!r}"
                )
        names = [item.name for item in (*self.parameters, *self.objectives)]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise SpecError(f"column names must be unique across parameters and objectives; repeated: {duplicates}")

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the input columns, in order."""
        return tuple(p.name for p in self.parameters)

    @property
    def objective_names(self) -> tuple[str, ...]:
        """Names of the objective columns, in order."""
        return tuple(o.name for o in self.objectives)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """``{name: (low, high)}`` for every parameter, in its unit."""
        return {p.name: (p.low, p.high) for p in self.parameters}

    def parameter(self, name: str) -> DesignParameter:
        """The parameter called ``name``.

        Raises:
            SpecError: If there is no such parameter; the message lists the known names.
        """
        for p in self.parameters:
            if p.name == name:
                return p
        raise SpecError(f"unknown design parameter {name!r}; known parameters: {list(self.parameter_names)}")

    def with_bounds(self, **bounds: tuple[float, float]) -> CellDesignSpace:
        """A copy with new ``(low, high)`` bounds for the named parameters.

        Args:
            **bounds: ``name=(low, high)`` in each parameter's unit.

        Returns:
            A new space; this one is unchanged.

        Raises:
            SpecError: If a name is unknown or a range is invalid.
        """
        new_parameters = list(self.parameters)
        for name, value in bounds.items():
            index = self.parameter_names.index(self.parameter(name).name)
            try:
                low, high = value
            except (TypeError, ValueError) as err:
                raise SpecError(f"bounds for {name!r} must be a (low, high) pair, got {value!r}") from err
            new_parameters[index] = dataclasses.replace(new_parameters[index], low=low, high=high)
        return dataclasses.replace(self, parameters=tuple(new_parameters))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, float, list, dict) for ``campaign.yaml``; inverse of :meth:`from_dict`.

        Returns:
            ``{"version": 1, "type": "CellDesignSpace", "parameters": {name: {"low", "high", "unit",
            "description"}}, "objectives": [{"name", "direction", "unit", "description"}]}``.
        """
        return {
            "version": SPACE_FORMAT_VERSION,
            "type": "CellDesignSpace",
            "parameters": {
                p.name: {"low": p.low, "high": p.high, "unit": p.unit, "description": p.description}
                for p in self.parameters
            },
            "objectives": [
                {"name": o.name, "direction": o.direction, "unit": o.unit, "description": o.description}
                for o in self.objectives
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellDesignSpace:
        """Rebuild a space from :meth:`to_dict` output (e.g. read back from ``campaign.yaml``).

        Args:
            data: The mapping; ``version`` and ``type`` may be omitted, ``description`` too.

        Returns:
            The equivalent space.

        Raises:
            SpecError: If the version or type is not supported, or an entry is missing a field.
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"a design space must be a mapping, got {type(data).__name__}")
        version = data.get("version", SPACE_FORMAT_VERSION)
        if version != SPACE_FORMAT_VERSION:
            raise SpecError(
                f"design space format version {version!r} is not supported; this planner reads version "
                f"{SPACE_FORMAT_VERSION}. Upgrade planner or rewrite the space."
            )
        kind = data.get("type", "CellDesignSpace")
        if kind != "CellDesignSpace":
            raise SpecError(f"expected a design space of type 'CellDesignSpace', got type {kind!r}")
        try:
            raw_parameters = data["parameters"]
            raw_objectives = data["objectives"]
            parameters = tuple(
                DesignParameter(
                    name=name,
                    low=entry["low"],
                    high=entry["high"],
                    unit=entry["unit"],
                    description=entry.get("description", ""),
                )
                for name, entry in raw_parameters.items()
            )
            objectives = tuple(
                DesignObjective(
                    name=entry["name"],
                    direction=entry["direction"],
                    unit=entry["unit"],
                    description=entry.get("description", ""),
                )
                for entry in raw_objectives
            )
        except KeyError as err:
            raise SpecError(
                f"design space entry is missing the field {err.args[0]!r}; parameters need low, high and "
                "unit, objectives need name, direction and unit"
            ) from err
        except (AttributeError, TypeError) as err:
            raise SpecError(
                "design space must have 'parameters' as a mapping {name: {low, high, unit}} and "
                f"'objectives' as a list of {{name, direction, unit}}; got {err}"
            ) from err
        return cls(parameters=parameters, objectives=objectives)
