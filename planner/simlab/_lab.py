"""The virtual cell-design lab: measure designs by simulating them with PyBaMM."""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.exceptions import DataValidationError, SimulationError, SimulationFailed
from planner.simlab._cell import MODELS, built_cell, check_parameter_set
from planner.simlab._space import CellDesignSpace

if TYPE_CHECKING:
    import pandas as pd

    from planner.simlab._cell import BuiltCell

__all__ = ["CellDesignLab"]

_LOG = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_FAILED = "failed"

# Outputs of one simulated discharge, in column order. Objectives of the space come first in a
# result table, the rest follow as extra columns.
OUTPUT_COLUMNS = (
    "energy_density_wh_per_l",
    "temp_rise_k",
    "capacity_ah",
    "energy_wh",
    "avg_voltage_v",
    "current_a",
    "discharge_time_h",
    "wall_time_s",
)

# What the simulator can take at all; a space may narrow these, never widen them.
SIMULATOR_LIMITS: dict[str, tuple[float, float]] = {
    "pos_thickness_um": (5.0, 500.0),
    "neg_thickness_um": (5.0, 500.0),
    "pos_porosity": (0.05, 0.8),
    "neg_porosity": (0.05, 0.8),
    "pos_particle_radius_um": (0.1, 50.0),
    "c_rate": (0.01, 20.0),
}


class CellDesignLab:
    """A virtual lab that "measures" lithium-ion cell designs with a PyBaMM simulation.

    Each design is a constant-current discharge, from full charge to the set's lower cut-off
    voltage (Marquis2019: 4.1 V open circuit to 3.105 V), of a pouch cell made of ``n_layers``
    identical electrode pairs, with a lumped thermal model. "Full charge" means the electrode
    stoichiometries that PyBaMM's ``set_initial_state(1.0)`` finds for the parameter set's own
    cell (Marquis2019: negative 0.949, positive 0.513); they are held fixed for every design, so
    a design changes how much lithium each electrode holds, not its state of charge.

    Inputs (columns of :class:`CellDesignSpace`):

    * ``pos_thickness_um``, ``neg_thickness_um`` [µm]: coating thickness of each electrode.
    * ``pos_porosity``, ``neg_porosity`` [1]: electrolyte volume fraction. The binder/additive
      fraction is held at the parameter set's value (Marquis2019: 0.2 positive, 0.1 negative);
      the active material fills the rest, so denser electrodes store more lithium but conduct
      ions worse.
    * ``pos_particle_radius_um`` [µm]: positive particle radius (solid diffusion length, surface area).
    * ``c_rate`` [1/h]: discharge current as a multiple of the design's *theoretical* capacity,
      that of the limiting electrode: negative ``F A L_n eps_am,n c_n,0``, positive
      ``F A L_p eps_am,p (c_p,max - c_p,0)``, per layer, times ``n_layers``. The deliverable
      capacity is lower (cut-off voltage), so a "1C" discharge lasts a little under an hour.

    Outputs (columns of :meth:`measure`):

    * ``energy_density_wh_per_l`` [Wh/L], maximise: discharge energy (PyBaMM's integral of
      voltage times current over time, ``Discharge energy [W.h]``) divided by the volume of the
      electrode stack, ``n_layers * A * (L_foil,n/2 + L_n + L_sep + L_p + L_foil,p/2)``, with
      ``A`` the electrode area: a double-side-coated stack in which each electrode pair owns half
      of each foil. Pouch foil, tabs and headspace are excluded. The Marquis2019 base design
      (100 µm / 100 µm, porosity 0.3, 10 µm, 1C) gives about 437 Wh/L, 17.0 Ah, 3.64 V average
      and a 5.2 K rise; 200 Sobol designs of the default space span about 150-590 Wh/L and
      0.1-63 K.
    * ``temp_rise_k`` [K], minimise: the largest rise of the volume-averaged cell temperature over
      its initial value during the discharge. Heat from all layers warms the stack's thermal mass;
      the pouch loses it through its faces and edges with the set's heat-transfer coefficient
      (Marquis2019: 10 W/m²/K, natural convection), so a thicker stack heats up more.
    * ``capacity_ah`` [A.h], ``energy_wh`` [W.h], ``avg_voltage_v`` [V] (energy / capacity),
      ``current_a`` [A] (the applied current), ``discharge_time_h`` [h] (simulated duration),
      ``wall_time_s`` [s] (computer time for this design).
    * ``status`` (``"ok"`` or ``"failed"``) and ``failure_reason`` (``None`` when ok).

    A design fails, as a record and never as an exception, when a value is missing, not a
    number, not finite or out of bounds, or when the solver fails (e.g. a thick, dense electrode
    at 8C or more, whose voltage starts below the cut-off). Bad designs that still discharge are
    data, not failures: 200 µm dense electrodes at 5C deplete their electrolyte within a minute
    and deliver about 2 Wh/L.

    Optional measurement noise mimics a real lab: each objective of an ``ok`` row is multiplied
    by ``1 + noise * z`` with ``z`` standard normal, drawn from a generator seeded by ``seed``.
    Draws advance with every row measured (failed rows too), so a fresh lab with the same seed
    repeats the same sequence, and repeating a design gives a new reading, as in a lab.

    The PyBaMM model is built once per ``(parameter_set, model, n_layers)`` and process, on the
    first measurement (about 1 s, plus 1.5 s to import PyBaMM on construction); each design then
    costs one solve. Measured on 40 Sobol designs (shared 2-core machine): DFN median 94 ms (max
    0.14 s; 4.1 s for all 40), SPMe 21 ms, SPM 5 ms per design.

    Why DFN is the default: in thick, dense electrodes at high rates (e.g. positive porosity
    below about 0.25 above 2C) the SPMe's electrolyte concentration goes negative and its voltage
    collapses within a minute, reporting a few Wh/L where the DFN delivers several hundred: about
    one design in six of the default space. An optimiser would learn that artefact. Such SPM(e)
    rows are returned as failed ("outside its validity"); choose SPMe for speed only in spaces
    that avoid that corner.

    Args:
        parameter_set: Name of a PyBaMM parameter set with lumped-thermal parameters.
        model: ``"DFN"`` (default, Doyle-Fuller-Newman), ``"SPMe"`` or ``"SPM"`` (faster, cruder).
        seed: Seed of the noise generator; ``None`` draws fresh entropy.
        noise: Relative standard deviation of the objective noise, in ``[0, 1)``; 0 is exact.
        n_layers: Electrode pairs stacked in the pouch cell (20 gives about 17 Ah at the base design).
        space: Design space to enforce; default :class:`CellDesignSpace`. Its parameters must be the
            six above, within :data:`SIMULATOR_LIMITS`; its objectives any of the output columns.

    Raises:
        SimulationError: If the parameter set or model is unknown, or an argument is invalid.
        OptionalDependencyError: If PyBaMM is not installed.

    Example:
        >>> from planner.simlab import CellDesignLab, initial_design
        >>> lab = CellDesignLab(seed=0, noise=0.02)  # doctest: +SKIP
        >>> results = lab.measure(initial_design(lab.space, 8, seed=0))  # doctest: +SKIP
    """

    def __init__(
        self,
        parameter_set: str = "Marquis2019",
        model: str = "DFN",
        *,
        seed: int | None = None,
        noise: float = 0.0,
        n_layers: int = 20,
        space: CellDesignSpace | None = None,
    ) -> None:
        if model not in MODELS:
            raise SimulationError(f"unknown cell model {model!r}; choose one of {list(MODELS)}, e.g. model='DFN'")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int | np.integer) or n_layers < 1:
            raise SimulationError(f"n_layers must be a positive integer number of electrode pairs, got {n_layers!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise SimulationError(f"seed must be an integer or None, got {seed!r}")
        self.space = CellDesignSpace() if space is None else space
        _check_space(self.space)
        check_parameter_set(parameter_set)
        self.parameter_set = parameter_set
        self.model = model
        self.n_layers = int(n_layers)
        self.seed = seed
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self._cell: BuiltCell | None = None

    @property
    def noise(self) -> float:
        """Relative standard deviation of the multiplicative noise on the objectives."""
        return self._noise

    @noise.setter
    def noise(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
            raise SimulationError(f"noise must be a relative standard deviation in [0, 1), e.g. 0.02; got {value!r}")
        self._noise = float(value)

    def __getstate__(self) -> dict[str, Any]:
        # The compiled PyBaMM model does not pickle; a copy (e.g. sent to a worker process)
        # rebuilds it on its first measurement. The noise generator's state travels along.
        state = self.__dict__.copy()
        state["_cell"] = None
        return state

    def __repr__(self) -> str:
        return (
            f"CellDesignLab(parameter_set={self.parameter_set!r}, model={self.model!r}, seed={self.seed!r}, "
            f"noise={self.noise!r}, n_layers={self.n_layers!r})"
        )

    @property
    def output_columns(self) -> tuple[str, ...]:
        """Columns that :meth:`measure` adds after the inputs, in order."""
        objectives = self.space.objective_names
        extras = tuple(name for name in OUTPUT_COLUMNS if name not in objectives)
        return (*objectives, *extras, "status", "failure_reason")

    def measure(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Simulate every row of ``designs``; failures become records, never exceptions.

        Args:
            designs: An ``n x d`` table whose columns are exactly ``space.parameter_names`` (any
                order), in the parameters' units. Keep identifiers in the index: it is preserved.

        Returns:
            The input columns followed by :attr:`output_columns`, one row per design, same index.
            Objective and extra columns are NaN in failed rows.

        Raises:
            DataValidationError: If ``designs`` is not a DataFrame or its columns do not match.
        """
        import pandas as pd

        if not isinstance(designs, pd.DataFrame):
            raise DataValidationError(
                f"designs must be a pandas DataFrame with columns {list(self.space.parameter_names)}, "
                f"got {type(designs).__name__}; wrap a single design as pd.DataFrame([design])"
            )
        self._check_columns([str(c) for c in designs.columns], "designs table")
        records = [self._measure_validated(row) for row in designs.to_dict(orient="records")]
        columns = [*self.space.parameter_names, *self.output_columns]
        return pd.DataFrame(records, index=designs.index, columns=columns)

    def measure_one(self, design: Mapping[str, Any]) -> dict[str, Any]:
        """Simulate one design; a failure becomes a record, never an exception.

        Args:
            design: ``{parameter name: value}`` with exactly the space's parameter names.

        Returns:
            The design's values followed by :attr:`output_columns`.

        Raises:
            DataValidationError: If ``design`` is not a mapping or its keys do not match.
        """
        if not isinstance(design, Mapping):
            raise DataValidationError(f"design must be a mapping {{parameter: value}}, got {type(design).__name__}")
        self._check_columns([str(k) for k in design], "design")
        return self._measure_validated(dict(design))

    def _check_columns(self, names: list[str], what: str) -> None:
        expected = self.space.parameter_names
        missing = [name for name in expected if name not in names]
        unknown = [name for name in names if name not in expected]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if missing or unknown or duplicated:
            problems = []
            if missing:
                problems.append(f"missing {missing}")
            if unknown:
                problems.append(f"unknown {unknown}")
            if duplicated:
                problems.append(f"repeated {duplicated}")
            raise DataValidationError(
                f"{what} must have exactly the design-space parameters {list(expected)}; "
                f"{', '.join(problems)}. Rename or drop columns (keep identifiers in the DataFrame index)"
            )

    def _measure_validated(self, design: dict[str, Any]) -> dict[str, Any]:
        # One draw per row, failed or not, keeps the noise stream aligned with the row count.
        z = self._rng.standard_normal(len(self.space.objectives))
        cell = self._built_cell()  # outside the timer: building is a one-off per process
        start = time.perf_counter()
        record: dict[str, Any] = {name: design[name] for name in self.space.parameter_names}
        record.update({name: math.nan for name in OUTPUT_COLUMNS})
        reason = self._design_problem(design)
        outputs: dict[str, float] = {}
        if reason is None:
            clean = {name: float(design[name]) for name in self.space.parameter_names}
            reason = cell.check_design(clean)
            if reason is None:
                try:
                    outputs = cell.solve(clean)
                except SimulationFailed as err:
                    reason = str(err)
                except Exception as err:  # the loop must survive any per-design crash
                    reason = f"unexpected simulator error: {type(err).__name__}: {err}"
        if reason is None:
            for name, draw in zip(self.space.objective_names, z, strict=True):
                outputs[name] *= 1.0 + self._noise * float(draw)
            record.update(outputs)
            record["status"], record["failure_reason"] = STATUS_OK, None
        else:
            record["status"], record["failure_reason"] = STATUS_FAILED, reason
        record["wall_time_s"] = time.perf_counter() - start
        _LOG.debug("measured %s -> %s (%.3f s)", design, record["status"], record["wall_time_s"])
        return record

    def _design_problem(self, design: dict[str, Any]) -> str | None:
        problems = []
        for p in self.space.parameters:
            value = design[p.name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                problems.append(f"{p.name} must be a number in {p.unit}, got {value!r} ({type(value).__name__})")
            elif not math.isfinite(value):
                problems.append(f"{p.name} must be finite, got {value!r}")
            elif not p.contains(value):
                problems.append(f"{p.name}={value!r} is outside the design space [{p.low:g}, {p.high:g}] {p.unit}")
        return "; ".join(problems) if problems else None

    def _built_cell(self) -> BuiltCell:
        if self._cell is None:
            self._cell = built_cell(self.parameter_set, self.model, self.n_layers)
        return self._cell


def _check_space(space: CellDesignSpace) -> None:
    if not isinstance(space, CellDesignSpace):
        raise SimulationError(f"space must be a CellDesignSpace, got {type(space).__name__}")
    names = set(space.parameter_names)
    if names != set(SIMULATOR_LIMITS):
        raise SimulationError(
            f"the lab simulates exactly the parameters {sorted(SIMULATOR_LIMITS)}; the space has "
            f"unknown {sorted(names - set(SIMULATOR_LIMITS))} and lacks {sorted(set(SIMULATOR_LIMITS) - names)}. "
            "Start from CellDesignSpace() and narrow it with with_bounds(...)"
        )
    for p in space.parameters:
        low, high = SIMULATOR_LIMITS[p.name]
        if p.low < low or p.high > high:
            raise SimulationError(
                f"space bounds for {p.name!r} [{p.low:g}, {p.high:g}] exceed what the simulator takes "
                f"[{low:g}, {high:g}]; narrow them with with_bounds({p.name}=(low, high))"
            )
    computable = [name for name in OUTPUT_COLUMNS if name != "wall_time_s"]
    unknown = [name for name in space.objective_names if name not in computable]
    if unknown:
        raise SimulationError(f"the lab cannot measure objectives {unknown}; choose from {computable}")
