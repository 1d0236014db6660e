"""What a strategy sees and returns: :class:`Problem` (the fitted model, the observations and
the constraints, in the engine's internal orientation) and :class:`Selection` (its picks)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from planner.active._ensemble import EnsembleSurrogate
from planner.active._pareto import pareto_mask
from planner.active._surrogates import DTYPE, BaseSurrogate, Points

__all__ = ["Problem", "Selection", "SHARP_ETA"]

#: BoTorch's default sigmoid width for outcome constraints: effectively a step.
SHARP_ETA = 1e-3


@dataclass
class Problem:
    """Everything a strategy needs, in the engine's internal orientation (larger is better).

    Attributes:
        surrogate: Fitted model of ``m`` outputs (``None`` for model-free strategies).
        observed: Measured points (``n_obs``).
        observed_y: Their outputs, ``n_obs x m``.
        pending: Suggested but not yet measured points.
        objectives: Model output index of each objective.
        constraints: ``(output index, op, bound, sign)``; the raw outcome is ``sign * Z``.
        beta: Exploration weight of UCB.
        n_mc: Monte-Carlo samples of the acquisition functions.
        shortlist_size: Candidates passed from the prefilter to the exact selection.
        seed: Seed of the samplers.
        rng: Seeded generator for model-free randomness.
        ref_point: Hypervolume reference point over the objectives (multi-objective).
        mc_points: Sample of the design space that integrated variance reduction averages over.
        notes: Free-form lines collected for the log.
        feasibility_label: What ``P(...)`` of the constraints is called in the reasons.
        constraint_eta: Per constraint, the width of the sigmoid that turns it into a
            feasibility weight (output units); ``None``: all sharp (BoTorch's ``1e-3``).
            A wide one makes the weight follow the output's level, as for a 0/1 outcome
            whose model estimates a probability.
    """

    surrogate: BaseSurrogate | None
    observed: Points
    observed_y: np.ndarray
    pending: Points
    objectives: list[int]
    constraints: list[tuple[int, str, float, float]]
    beta: float = 2.0
    n_mc: int = 256
    shortlist_size: int = 1000
    seed: int = 0
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    ref_point: np.ndarray | None = None
    mc_points: Points | None = None
    notes: list[str] = field(default_factory=list)
    feasibility_label: str = "constraints met"
    constraint_eta: list[float] | None = None

    @property
    def is_multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def feasible_observed(self) -> np.ndarray:
        """Observed rows that meet every outcome constraint, shape ``n_obs``."""
        ok = np.ones(len(self.observed_y), dtype=bool)
        for j, op, bound, sign in self.constraints:
            raw = sign * self.observed_y[:, j]
            ok &= raw <= bound if op == "<=" else raw >= bound
        return ok

    @property
    def best_observed(self) -> float:
        """Best measured objective among feasible rows (single objective)."""
        y = self.observed_y[self.feasible_observed, self.objectives[0]]
        return float(y.max()) if len(y) else float(self.observed_y[:, self.objectives[0]].min())

    def observed_front(self) -> np.ndarray:
        """Objectives of the observed, feasible, non-dominated rows (``k x n_obj``)."""
        Y = self.observed_y[self.feasible_observed][:, self.objectives]
        return Y[pareto_mask(Y)] if len(Y) else Y

    # -- analytic helpers over many candidates --------------------------------------
    def log_p_each(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """``log P(constraint holds)`` per outcome constraint under normals, ``n x k``: the
        feasibility weight the MC acquisition uses, ``E[sigmoid(margin / eta)]`` by the probit
        approximation of the logistic (``sigmoid(x) ~ Phi(x sqrt(pi / 8))``); a sharp ``eta``
        gives ``P(margin > 0)``."""
        from scipy.special import log_ndtr

        out = np.zeros((len(mean), len(self.constraints)))
        etas = self.constraint_eta or [SHARP_ETA] * len(self.constraints)
        for c, ((j, op, bound, sign), eta) in enumerate(zip(self.constraints, etas)):
            mu, sd = sign * mean[:, j], np.sqrt(var[:, j] + (eta > SHARP_ETA) * (eta / math.sqrt(math.pi / 8)) ** 2)
            out[:, c] = log_ndtr((bound - mu) / sd if op == "<=" else (mu - bound) / sd)
        return out

    def log_p_feasible(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """``log P(all outcome constraints hold)`` under independent normals, shape ``n``."""
        return self.log_p_each(mean, var).sum(axis=1)

    def std_score(self, var: np.ndarray) -> np.ndarray:
        """Total standardized posterior variance of the objectives, shape ``n``."""
        scale = self.surrogate.y_std[self.objectives] ** 2
        return (var[:, self.objectives] / scale).sum(axis=1)

    # -- BoTorch pieces -------------------------------------------------------------
    def mc_objective(self) -> Any:
        """The MC objective picking the objective output(s), or ``None`` for a plain model."""
        m = self.surrogate.n_outputs
        if self.is_multi_objective:
            from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective

            return IdentityMCMultiOutputObjective(outcomes=self.objectives)
        if m == 1:
            return None
        from botorch.acquisition.objective import GenericMCObjective

        j = self.objectives[0]
        return GenericMCObjective(lambda Z, X=None: Z[..., j])

    def mc_constraints(self) -> list[Callable[[Tensor], Tensor]] | None:
        """BoTorch outcome constraints (feasible where ``<= 0``), or ``None``."""
        if not self.constraints:
            return None
        out = []
        for j, op, bound, sign in self.constraints:
            if op == "<=":
                out.append(lambda Z, j=j, b=bound, s=sign: s * Z[..., j] - b)
            else:
                out.append(lambda Z, j=j, b=bound, s=sign: b - s * Z[..., j])
        return out

    def mc_eta(self) -> float | Tensor:
        """The ``eta`` of BoTorch's constrained acquisition functions."""
        if not self.constraint_eta:
            return SHARP_ETA
        return torch.tensor(self.constraint_eta, dtype=DTYPE)

    def sampler(self) -> Any:
        if isinstance(self.surrogate, EnsembleSurrogate):
            from botorch.sampling.index_sampler import IndexSampler

            return IndexSampler(torch.Size([self.n_mc]), seed=self.seed)
        from botorch.sampling.normal import SobolQMCNormalSampler

        return SobolQMCNormalSampler(torch.Size([self.n_mc]), seed=self.seed)

    @property
    def cache_root(self) -> bool:
        return not isinstance(self.surrogate, EnsembleSurrogate)

    def best_f_model(self) -> float:
        """Best posterior mean among the observed points (the noisy incumbent)."""
        mean, _ = self.surrogate.moments(self.observed)
        ok = self.feasible_observed
        col = mean[:, self.objectives[0]]
        return float(col[ok].max() if ok.any() else col.max())


@dataclass
class Selection:
    """Picks of a strategy.

    Attributes:
        positions: Positions in the shortlist handed to :meth:`BaseStrategy.select`, best first.
        values: The acquisition value of each pick (larger is better).
        kind: What the reason line says: ``"value"``, ``"uncertainty"``, ``"pareto"``,
            ``"random"``, ``"space-filling"``, or ``"auto"`` (decided from the pick's
            predicted mean and spread relative to the other candidates).
    """

    positions: list[int]
    values: list[float]
    kind: str  # "value", "uncertainty", "pareto", "random", "space-filling", "auto"
