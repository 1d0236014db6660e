"""The PyBaMM side of the lab: build one reusable model, solve one design at a time.

PyBaMM is imported only inside the functions here, so ``import planner.simlab`` stays light.

Why one build serves every design: the geometric inputs (electrode thicknesses, particle
radius) are :class:`pybamm.InputParameter` objects on a *symbolic* mesh
(:class:`pybamm.SymbolicUniform1DSubMesh`), whose node positions are scaled by the input lengths
at solve time. The model is therefore parameterised, meshed, discretised and compiled once per
``(parameter_set, model, n_layers)`` (0.5-1 s); each design is then only an IDAKLU solve
(measured medians: SPM 5 ms, SPMe 21 ms, DFN 94 ms). On a fixed mesh, every new thickness would
need a full rebuild (0.3-1 s). The symbolic mesh agrees with a freshly built fixed mesh to about
0.1 % in energy and 2 % in temperature rise (checked for SPMe and DFN; see the tests).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from planner.exceptions import OptionalDependencyError, SimulationError, SimulationFailed

FARADAY_C_PER_MOL = 96485.33212

MODELS = ("SPM", "SPMe", "DFN")

# PyBaMM parameters made inputs, so one compiled model serves every design (values from `inputs`).
_INPUT_PARAMETERS = (
    "Positive electrode thickness [m]",
    "Negative electrode thickness [m]",
    "Positive electrode porosity",
    "Negative electrode porosity",
    "Positive electrode active material volume fraction",
    "Negative electrode active material volume fraction",
    "Positive particle radius [m]",
    "Current function [A]",
)

_SYMBOLIC_DOMAINS = ("negative electrode", "separator", "positive electrode", "negative particle", "positive particle")

# Longest discharge simulated, in multiples of the nominal duration 1/C-rate. The C-rate refers
# to the theoretical capacity, so a complete discharge always ends (at the voltage cut-off) before 1.
_T_END_FACTOR = 1.25

# How far below zero (relative to the initial electrolyte concentration) a DFN's electrolyte may
# dip at the moment of depletion before the result is rejected as numerically unsound.
_DEPLETION_TOLERANCE = 0.01

INSTALL_HINT = "pip install 'pybamm>=25.10,<27'"


def import_pybamm() -> Any:
    """Import PyBaMM with its telemetry prompt disabled (unless the user chose otherwise).

    Raises:
        OptionalDependencyError: If PyBaMM is not installed; the message gives the install command.
    """
    # A first import may otherwise ask about telemetry on stdin, which would hang a batch run.
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    try:
        import pybamm
    except ImportError as err:
        raise OptionalDependencyError(
            f"planner.simlab simulates cells with PyBaMM, which is not installed; install it with `{INSTALL_HINT}`"
        ) from err
    return pybamm


@contextlib.contextmanager
def quiet_pybamm(pybamm: Any) -> Iterator[None]:
    """Silence PyBaMM's logger and Python warnings while simulating; errors still propagate."""
    logger = pybamm.logger
    old_level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(old_level)


def check_parameter_set(parameter_set: str) -> None:
    """Raise :class:`SimulationError` unless PyBaMM ships a parameter set called ``parameter_set``."""
    pybamm = import_pybamm()
    known = sorted(pybamm.parameter_sets)
    if parameter_set not in known:
        raise SimulationError(
            f"unknown PyBaMM parameter set {parameter_set!r}; choose one of {known}, "
            "e.g. parameter_set='Marquis2019' (lithium-ion with lumped-thermal parameters)"
        )


@dataclass(frozen=True)
class CellConstants:
    """Numbers of the parameter set that the lab needs outside PyBaMM, in SI units."""

    area_m2: float
    separator_thickness_m: float
    neg_foil_thickness_m: float
    pos_foil_thickness_m: float
    neg_initial_conc: float
    pos_initial_conc: float
    pos_max_conc: float
    neg_inactive_fraction: float
    pos_inactive_fraction: float
    lower_cutoff_v: float
    electrolyte_conc: float
    n_layers: int

    def stack_unit_thickness_m(self, neg_thickness_m: float, pos_thickness_m: float) -> float:
        """Thickness of one electrode pair of a double-side-coated stack [m].

        Each pair owns half of a copper and half of an aluminium foil.
        """
        return (
            self.neg_foil_thickness_m / 2
            + neg_thickness_m
            + self.separator_thickness_m
            + pos_thickness_m
            + self.pos_foil_thickness_m / 2
        )

    def theoretical_capacity_ah(
        self, neg_thickness_m: float, pos_thickness_m: float, neg_active: float, pos_active: float
    ) -> float:
        """Capacity [A.h] of the limiting electrode of the whole stack, from its initial state.

        Negative: all lithium it holds at the start, ``F A L_n eps_am,n c_n,0``. Positive: all its
        empty sites, ``F A L_p eps_am,p (c_p,max - c_p,0)``. The smaller, times ``n_layers``.
        """
        per_area_neg = FARADAY_C_PER_MOL * neg_thickness_m * neg_active * self.neg_initial_conc
        per_area_pos = FARADAY_C_PER_MOL * pos_thickness_m * pos_active * (self.pos_max_conc - self.pos_initial_conc)
        return self.n_layers * self.area_m2 * min(per_area_neg, per_area_pos) / 3600.0


def _number(values: Any, name: str, parameter_set: str) -> float:
    try:
        value = values[name]
    except KeyError as err:
        raise SimulationError(
            f"parameter set {parameter_set!r} has no {name!r}, which the lab needs; use a lithium-ion set "
            "with lumped-thermal parameters such as 'Marquis2019'"
        ) from err
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SimulationError(
            f"parameter set {parameter_set!r} gives {name!r} as {type(value).__name__}; the lab needs a plain "
            "number there. Use a set where it is constant, such as 'Marquis2019'"
        )
    return float(value)


class BuiltCell:
    """A discretised, compiled PyBaMM model of a stacked pouch cell, solved once per design.

    Not for direct use: :class:`~planner.simlab.CellDesignLab` owns one (through :func:`built_cell`).
    """

    def __init__(self, parameter_set: str, model: str, n_layers: int) -> None:
        pybamm = import_pybamm()
        self._pybamm = pybamm
        self.parameter_set = parameter_set
        self.model_name = model
        with quiet_pybamm(pybamm):
            values = pybamm.ParameterValues(parameter_set)
            try:
                # Start every discharge from full charge (upper cut-off voltage) rather than the
                # set's own initial state (Marquis2019: ~3.85 V). The stoichiometries are found
                # for the set's cell and then held fixed for every design.
                values.set_initial_state(1.0)
            except Exception as err:
                raise SimulationError(
                    f"could not set parameter set {parameter_set!r} to full charge: {type(err).__name__}: {err}. "
                    "The lab needs a lithium-ion full-cell set such as 'Marquis2019'"
                ) from err
            self.constants = self._constants(values, parameter_set, n_layers)
            self._simulation = self._build(pybamm, values, model, self.constants)
            self._warm_up()

    @staticmethod
    def _constants(values: Any, parameter_set: str, n_layers: int) -> CellConstants:
        def get(name: str) -> float:
            return _number(values, name, parameter_set)

        inactive = {}
        for domain in ("Negative", "Positive"):
            solid = get(f"{domain} electrode active material volume fraction")
            pores = get(f"{domain} electrode porosity")
            # Binder and conductive additive: what the set leaves to neither active material nor pores.
            inactive[domain] = max(0.0, 1.0 - solid - pores)
        return CellConstants(
            area_m2=get("Electrode height [m]") * get("Electrode width [m]"),
            separator_thickness_m=get("Separator thickness [m]"),
            neg_foil_thickness_m=get("Negative current collector thickness [m]"),
            pos_foil_thickness_m=get("Positive current collector thickness [m]"),
            neg_initial_conc=get("Initial concentration in negative electrode [mol.m-3]"),
            pos_initial_conc=get("Initial concentration in positive electrode [mol.m-3]"),
            pos_max_conc=get("Maximum concentration in positive electrode [mol.m-3]"),
            neg_inactive_fraction=inactive["Negative"],
            pos_inactive_fraction=inactive["Positive"],
            lower_cutoff_v=get("Lower voltage cut-off [V]"),
            electrolyte_conc=get("Initial concentration in electrolyte [mol.m-3]"),
            n_layers=n_layers,
        )

    @staticmethod
    def _build(pybamm: Any, values: Any, model: str, c: CellConstants) -> Any:
        options = {"thermal": "lumped", "calculate discharge energy": "true"}
        model_obj = getattr(pybamm.lithium_ion, model)(options)
        for name in _INPUT_PARAMETERS:
            values[name] = "[input]"
        # PyBaMM models one electrode pair; its current-collector thicknesses become the half foils
        # that pair owns, so its thermal mass and averaged heat capacity match the stack.
        values["Negative current collector thickness [m]"] = c.neg_foil_thickness_m / 2
        values["Positive current collector thickness [m]"] = c.pos_foil_thickness_m / 2
        values["Number of electrodes connected in parallel to make a cell"] = c.n_layers
        unit_thickness = (
            c.neg_foil_thickness_m / 2
            + pybamm.InputParameter("Negative electrode thickness [m]")
            + c.separator_thickness_m
            + pybamm.InputParameter("Positive electrode thickness [m]")
            + c.pos_foil_thickness_m / 2
        )
        height = values["Electrode height [m]"]
        width = values["Electrode width [m]"]
        stack_thickness = c.n_layers * unit_thickness
        # Lumped thermal model: heat from all n_layers pairs into the whole stack volume, cooled
        # through the pouch's two faces and four edges.
        values["Cell volume [m3]"] = c.area_m2 * stack_thickness
        values["Cell cooling surface area [m2]"] = 2 * (c.area_m2 + (height + width) * stack_thickness)
        submesh_types = dict(model_obj.default_submesh_types)
        for domain in _SYMBOLIC_DOMAINS:
            submesh_types[domain] = pybamm.SymbolicUniform1DSubMesh
        return pybamm.Simulation(model_obj, parameter_values=values, submesh_types=submesh_types)

    def _warm_up(self) -> None:
        """Solve a short reference discharge: compiles the solver once and surfaces setup errors early."""
        reference = {
            "pos_thickness_um": 100.0,
            "neg_thickness_um": 100.0,
            "pos_porosity": 0.3,
            "neg_porosity": 0.3,
            "pos_particle_radius_um": 10.0,
            "c_rate": 1.0,
        }
        inputs = self.inputs(reference)
        try:
            self._simulation.solve([0.0, 60.0], inputs=inputs)
        except Exception as err:
            raise SimulationError(
                f"could not set up the {self.model_name} model with parameter set {self.parameter_set!r}: "
                f"{type(err).__name__}: {err}. The lab needs a lithium-ion set with lumped-thermal "
                "parameters, such as 'Marquis2019'"
            ) from err

    def inputs(self, design: dict[str, float]) -> dict[str, float]:
        """PyBaMM input values (SI units) for one design given in the lab's units."""
        c = self.constants
        neg_thickness_m = design["neg_thickness_um"] * 1e-6
        pos_thickness_m = design["pos_thickness_um"] * 1e-6
        neg_active = 1.0 - design["neg_porosity"] - c.neg_inactive_fraction
        pos_active = 1.0 - design["pos_porosity"] - c.pos_inactive_fraction
        capacity_ah = c.theoretical_capacity_ah(neg_thickness_m, pos_thickness_m, neg_active, pos_active)
        return {
            "Positive electrode thickness [m]": pos_thickness_m,
            "Negative electrode thickness [m]": neg_thickness_m,
            "Positive electrode porosity": design["pos_porosity"],
            "Negative electrode porosity": design["neg_porosity"],
            "Positive electrode active material volume fraction": pos_active,
            "Negative electrode active material volume fraction": neg_active,
            "Positive particle radius [m]": design["pos_particle_radius_um"] * 1e-6,
            "Current function [A]": design["c_rate"] * capacity_ah,
        }

    def check_design(self, design: dict[str, float]) -> str | None:
        """Why a design in bounds is still impossible for this parameter set, or ``None``."""
        c = self.constants
        for domain, inactive in (("neg", c.neg_inactive_fraction), ("pos", c.pos_inactive_fraction)):
            porosity = design[f"{domain}_porosity"]
            if 1.0 - porosity - inactive < 0.05:
                return (
                    f"{domain}_porosity={porosity:g} leaves under 5 % active material next to the "
                    f"{inactive:.2f} binder/additive fraction of {self.parameter_set}; lower the porosity"
                )
        return None

    def solve(self, design: dict[str, float]) -> dict[str, float]:
        """Discharge one design at constant current to the lower cut-off voltage.

        Args:
            design: Parameter values in the lab's units (µm, 1, 1/h), already validated.

        Returns:
            The raw outputs (no noise): ``energy_density_wh_per_l``, ``temp_rise_k``,
            ``capacity_ah``, ``energy_wh``, ``avg_voltage_v``, ``current_a``, ``discharge_time_h``.

        Raises:
            SimulationFailed: If the solver fails or the discharge is not physical.
        """
        pybamm = self._pybamm
        c = self.constants
        inputs = self.inputs(design)
        current_a = inputs["Current function [A]"]
        t_end_s = _T_END_FACTOR * 3600.0 / design["c_rate"]
        with quiet_pybamm(pybamm):
            try:
                solution = self._simulation.solve([0.0, t_end_s], inputs=inputs)
            except pybamm.SolverError as err:
                raise SimulationFailed(self._explain_solver_error(err, design)) from err
            termination = str(solution.termination)
            capacity_ah = float(solution["Discharge capacity [A.h]"].entries[-1])
            energy_wh = float(solution["Discharge energy [W.h]"].entries[-1])
            temperature_k = solution["Volume-averaged cell temperature [K]"].entries
            min_electrolyte = float(solution["Electrolyte concentration [mol.m-3]"].entries.min())
            duration_s = float(solution.t[-1])
        if self.model_name != "DFN" and not min_electrolyte > 0:
            # SPM(e) linearise the electrolyte; in thick, dense electrodes at high rate the
            # concentration goes negative and the voltage collapses early, an artefact of the model.
            raise SimulationFailed(
                f"electrolyte concentration fell to {min_electrolyte:.3g} mol/m3 after {duration_s:.3g} s: "
                f"the {self.model_name} model is outside its validity for this design; use model='DFN'"
            )
        if min_electrolyte < -_DEPLETION_TOLERANCE * c.electrolyte_conc:
            # The DFN depletes the electrolyte physically, and the voltage collapses at once; a
            # slightly negative value is solver overshoot at that collapse, a large one is not.
            raise SimulationFailed(
                f"electrolyte concentration fell to {min_electrolyte:.3g} mol/m3 (solver overshoot beyond "
                f"{_DEPLETION_TOLERANCE:.0%} of the initial {c.electrolyte_conc:g} mol/m3) after {duration_s:.3g} s"
            )
        if not termination.startswith("event"):
            raise SimulationFailed(
                f"the discharge did not reach the {c.lower_cutoff_v:g} V cut-off within {t_end_s / 3600:.3g} h "
                f"(solver stopped with {termination!r})"
            )
        stack_volume_l = 1000.0 * c.area_m2 * c.n_layers * c.stack_unit_thickness_m(
            inputs["Negative electrode thickness [m]"], inputs["Positive electrode thickness [m]"]
        )
        outputs = {
            "energy_density_wh_per_l": energy_wh / stack_volume_l,
            "temp_rise_k": float(temperature_k.max() - temperature_k[0]),
            "capacity_ah": capacity_ah,
            "energy_wh": energy_wh,
            "avg_voltage_v": energy_wh / capacity_ah if capacity_ah > 0 else math.nan,
            "current_a": current_a,
            "discharge_time_h": duration_s / 3600.0,
        }
        bad = [name for name, value in outputs.items() if not math.isfinite(value)]
        if bad or capacity_ah <= 0:
            raise SimulationFailed(
                f"the solver returned a non-physical discharge (non-finite {bad or 'capacity'}, "
                f"capacity {capacity_ah:.3g} Ah after {duration_s:.3g} s)"
            )
        return outputs

    def _explain_solver_error(self, err: Exception, design: dict[str, float]) -> str:
        message = str(err).strip()
        # PyBaMM appends the whole input dictionary; the design is already in the row.
        message = message.split(" with inputs", 1)[0]
        if "non-positive at initial conditions" in message and "Minimum voltage" in message:
            return (
                f"the cell cannot sustain {design['c_rate']:g}C: the voltage starts below the "
                f"{self.constants.lower_cutoff_v:g} V cut-off (PyBaMM SolverError: {message})"
            )
        return f"PyBaMM solver failed: {message}"


@functools.lru_cache(maxsize=4)
def built_cell(parameter_set: str, model: str, n_layers: int) -> BuiltCell:
    """The compiled cell for this configuration, built once per process (about 1 s).

    Memoised because building dominates the cost and is the same for every lab with this setup.
    """
    start = time.perf_counter()
    cell = BuiltCell(parameter_set, model, n_layers)
    logging.getLogger(__name__).debug(
        "built %s/%s with %d layers in %.2f s", model, parameter_set, n_layers, time.perf_counter() - start
    )
    return cell
