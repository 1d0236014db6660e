"""Space-filling initial designs over a :class:`CellDesignSpace`."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np

from planner.exceptions import SpecError

if TYPE_CHECKING:
    import pandas as pd

    from planner.simlab._space import CellDesignSpace

__all__ = ["initial_design"]

_METHODS = ("sobol", "lhs")


def initial_design(
    space: CellDesignSpace,
    n: int,
    *,
    seed: int | None = None,
    method: Literal["sobol", "lhs"] = "sobol",
) -> pd.DataFrame:
    """Draw ``n`` space-filling designs, scaled to the parameter ranges.

    Uses :mod:`scipy.stats.qmc`: a scrambled Sobol sequence (``"sobol"``) or a Latin hypercube
    (``"lhs"``), both seeded. Sobol sequences are best balanced when ``n`` is a power of two;
    scipy's warning about other ``n`` is suppressed because the points stay valid and in bounds.

    Args:
        space: The design space; one column per parameter, in its unit.
        n: Number of designs (rows), at least 1.
        seed: Seed for the scrambling / permutation; the same seed gives the same table.
        method: ``"sobol"`` or ``"lhs"``.

    Returns:
        An ``n x d`` table with columns ``space.parameter_names`` and a ``RangeIndex``; every value
        lies within its parameter's ``[low, high]``.

    Raises:
        SpecError: If ``n`` is not a positive integer or ``method`` is unknown.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise SpecError(f"n must be a positive integer number of designs, got {n!r}")
    if method not in _METHODS:
        raise SpecError(f"unknown initial-design method {method!r}; use one of {list(_METHODS)}")
    import pandas as pd
    from scipy.stats import qmc

    n_dims = len(space.parameters)
    if method == "sobol":
        sampler: qmc.QMCEngine = qmc.Sobol(d=n_dims, scramble=True, rng=seed)
    else:
        sampler = qmc.LatinHypercube(d=n_dims, scramble=True, rng=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties.*", category=UserWarning)
        unit_points = sampler.random(int(n))
    lows = np.array([p.low for p in space.parameters])
    highs = np.array([p.high for p in space.parameters])
    # Clip guards against round-off pushing a scaled point a hair past a bound.
    points = np.clip(qmc.scale(unit_points, lows, highs), lows, highs)
    return pd.DataFrame(points, columns=list(space.parameter_names))
