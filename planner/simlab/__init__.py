"""A virtual cell-design lab: closed-loop experiments against a PyBaMM simulation.

Users without a lab attached can run the planner's loop against physics: suggest cell designs
(electrode thicknesses and porosities, particle radius, C-rate), "measure" them here, learn,
and suggest again. The demo and the benchmarks use it.

Public names:

* :class:`CellDesignSpace` (with :class:`DesignParameter`, :class:`DesignObjective`): the frozen
  design space, serialisable with ``to_dict()`` / ``from_dict()`` for ``campaign.yaml``.
* :class:`CellDesignLab`: ``measure(designs)`` / ``measure_one(design)``.
* :func:`initial_design`: seeded Sobol or Latin-hypercube starting designs.

PyBaMM is imported only when a lab is created or measures, so importing this package is cheap.
"""

from __future__ import annotations

from planner.simlab._design import initial_design
from planner.simlab._lab import CellDesignLab
from planner.simlab._space import CellDesignSpace, DesignObjective, DesignParameter

__all__ = [
    "CellDesignLab",
    "CellDesignSpace",
    "DesignObjective",
    "DesignParameter",
    "initial_design",
]
