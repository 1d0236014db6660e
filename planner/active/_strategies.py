"""Acquisition strategies and their registry.

A strategy picks ``n`` experiments from a finite set of candidates in two steps (the call
order every implementation follows):

1. :meth:`BaseStrategy.prefilter_score` scores *every* candidate from the posterior mean and
   variance alone (cheap, computed chunk by chunk over pools of millions);
2. :meth:`BaseStrategy.select` picks the batch from the shortlist of the best-scored
   candidates (plus the most uncertain ones), with the exact, batch-aware criterion - for
   Monte-Carlo acquisition functions a sequential-greedy optimization in which pending
   experiments and the picks so far enter as BoTorch ``X_pending``.

Strategies that BoTorch can optimize over a continuous space also give
:meth:`BaseStrategy.continuous_acqf`. New strategies register with
:func:`register_strategy`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from planner.active._problem import Problem, Selection
from planner.active._surrogates import DTYPE, Points
from planner.exceptions import SpecError

__all__ = [
    "Problem",
    "Selection",
    "BaseStrategy",
    "register_strategy",
    "get_strategy",
    "available_strategies",
    "strategies_for",
]

_STRATEGIES: dict[str, type[BaseStrategy]] = {}
_ALIASES: dict[str, str] = {}


def register_strategy(name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Class decorator that makes a :class:`BaseStrategy` available under ``name``.

    Raises:
        SpecError: ``name`` or an alias is taken already.
    """

    def decorate(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, BaseStrategy)):
            raise SpecError(f"register_strategy decorates BaseStrategy subclasses, got {cls!r}")
        for key in (name, *aliases):
            if key in _STRATEGIES or key in _ALIASES:
                raise SpecError(f"an acquisition strategy named {key!r} is registered already; choose another name")
        _STRATEGIES[name] = cls
        for alias in aliases:
            _ALIASES[alias] = name
        cls.name = name
        return cls

    return decorate


def available_strategies() -> list[str]:
    """Names of the registered strategies."""
    return sorted(_STRATEGIES)


def strategies_for(*, multi: bool) -> list[str]:
    """Names of the registered strategies usable with several objectives (``multi``) or one."""
    return sorted(k for k, v in _STRATEGIES.items() if (v.supports_multi if multi else v.supports_single))


def get_strategy(name: str) -> BaseStrategy:
    """A new instance of the strategy registered as ``name`` (or one of its aliases).

    Raises:
        SpecError: Nothing is registered under ``name``.
    """
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in _STRATEGIES:
        raise SpecError(
            f"unknown acquisition strategy {name!r}; choose one of {available_strategies()} "
            "or register your own with @planner.active.register_strategy('name')"
        )
    return _STRATEGIES[key]()


def strategy_for_targets(name: str, n_targets: int) -> BaseStrategy:
    """:func:`get_strategy`, checked to handle ``n_targets`` objectives.

    Raises:
        SpecError: Nothing is registered under ``name``, or it handles one target where there
            are several (or the reverse).
    """
    strategy = get_strategy(name)
    if n_targets > 1 and not strategy.supports_multi:
        raise SpecError(
            f"strategy {name!r} handles one target, but {n_targets} were given; use one of {strategies_for(multi=True)}"
        )
    if n_targets == 1 and not strategy.supports_single:
        raise SpecError(f"strategy {name!r} needs several targets; with one target use 'qlognei'")
    return strategy


class BaseStrategy(ABC):
    """An acquisition strategy; see the module docstring for the call order.

    Class attributes:
        name: Registry name (set by :func:`register_strategy`).
        supports_single: Usable with one objective.
        supports_multi: Usable with several objectives.
        needs_model: Whether a surrogate must be fitted first.
        handles_constraints: Whether outcome constraints enter the criterion itself (others
            drop candidates predicted infeasible from the shortlist).
        explores_only: Pure exploration: usable while every observed value is the same (the
            engine switches other strategies to ``max_variance`` then).
        needs_mc_points: Whether :attr:`Problem.mc_points` (a sample of the design space to
            average over) must be set before :meth:`select`.
        uses_beta: Whether the exploration weight ``beta`` enters the criterion (logged then).
        log_scale: Whether the acquisition values are on a log scale.
        kind: The default :class:`Selection` kind of the strategy's picks.
    """

    name: ClassVar[str] = "base"
    supports_single: ClassVar[bool] = True
    supports_multi: ClassVar[bool] = False
    needs_model: ClassVar[bool] = True
    handles_constraints: ClassVar[bool] = False
    explores_only: ClassVar[bool] = False
    needs_mc_points: ClassVar[bool] = False
    uses_beta: ClassVar[bool] = False
    log_scale: ClassVar[bool] = False
    kind: ClassVar[str] = "auto"

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """Cheap score of every candidate (``n``); higher is better."""
        return _log_ei(prob, mean, var)

    @abstractmethod
    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        """Pick ``n`` of the shortlisted ``pts`` (``mean``/``var`` are ``len(pts) x m``)."""

    def continuous_acqf(self, prob: Problem, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
        """A BoTorch acquisition function to optimize over a continuous space, or ``None``
        when the strategy works on a discretization."""
        return None


def _log_ei(prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Analytic log expected improvement over the best observed value, plus log P(feasible)."""
    from botorch.acquisition.analytic import _log_ei_helper

    j = prob.objectives[0]
    sd = np.sqrt(var[:, j])
    u = (mean[:, j] - prob.best_observed) / sd
    with torch.no_grad():
        log_ei = _log_ei_helper(torch.as_tensor(u, dtype=DTYPE)).numpy() + np.log(sd)
    return log_ei + prob.log_p_feasible(mean, var)


def _log_pi(prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Analytic log probability of beating the best observed value, plus log P(feasible)."""
    from scipy.special import log_ndtr

    j = prob.objectives[0]
    return log_ndtr((mean[:, j] - prob.best_observed) / np.sqrt(var[:, j])) + prob.log_p_feasible(mean, var)


def _feasible_first(prob: Problem, score: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Push candidates with ``P(feasible) < 0.5`` behind all others (for constraint-blind criteria)."""
    if not prob.constraints:
        return score
    infeasible = prob.log_p_feasible(mean, var) < math.log(0.5)
    return np.where(infeasible, score - (np.nanmax(np.abs(score)) + 1) * 1e6, score)


def _top(score: np.ndarray, n: int, exclude: set[int] | None = None) -> list[int]:
    order = np.argsort(-score, kind="stable")
    out = [int(i) for i in order if not exclude or int(i) not in exclude]
    return out[:n]


def _mc_sequential(prob: Problem, pts: Points, build: Callable[..., Any], n: int, chunk: int = 256) -> Selection:
    """Sequential-greedy batch selection with a BoTorch MC acquisition function.

    ``build(model, X_baseline, X_pending)`` makes the acquisition function; after each pick
    the picks so far join the pending points, so that the next pick accounts for them.
    """
    surrogate = prob.surrogate
    n_obs, n_pend = len(prob.observed), len(prob.pending)
    model, T = surrogate.botorch_model(Points.concat([prob.observed, prob.pending, pts]))
    T_obs, T_pend, T_cand = T[:n_obs], T[n_obs : n_obs + n_pend], T[n_obs + n_pend :]
    acqf = build(model, T_obs, T_pend if n_pend else None)
    chosen: list[int] = []
    values: list[float] = []
    for _ in range(n):
        if chosen:
            acqf.set_X_pending(torch.cat([T_pend, T_cand[chosen]]))
        with torch.no_grad():
            vals = torch.cat([acqf(c.unsqueeze(-2)) for c in T_cand.split(chunk)])
        vals[chosen] = -math.inf
        vals = torch.nan_to_num(vals, nan=-math.inf)
        i = int(vals.argmax())
        chosen.append(i)
        values.append(float(vals[i]))
    return Selection(chosen, values, "auto")


# ------------------------------------------------------------------------------------
# Single-objective strategies
# ------------------------------------------------------------------------------------


@register_strategy("qlognei", aliases=("qlognoisyei", "qnei", "lognei", "ei", "qei"))
class QLogNEI(BaseStrategy):
    """``qLogNoisyExpectedImprovement`` (the default): expected improvement over the noisy
    incumbent, in log space, joint over the batch and the pending experiments."""

    handles_constraints = True
    log_scale = True

    def _build(self, prob: Problem) -> Callable[..., Any]:
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement

        def build(model: Any, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
            return qLogNoisyExpectedImprovement(
                model,
                X_baseline=X_baseline,
                sampler=prob.sampler(),
                objective=prob.mc_objective(),
                constraints=prob.mc_constraints(),
                eta=prob.mc_eta(),
                X_pending=X_pending,
                prune_baseline=True,
                cache_root=prob.cache_root,
            )

        return build

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        return _mc_sequential(prob, pts, self._build(prob), n)

    def continuous_acqf(self, prob: Problem, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
        return self._build(prob)(prob.surrogate.model, X_baseline, X_pending)


@register_strategy("qucb", aliases=("ucb",))
class QUCB(BaseStrategy):
    """``qUpperConfidenceBound`` with exploration weight ``beta`` (pending-aware)."""

    uses_beta = True

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        j = prob.objectives[0]
        return _feasible_first(prob, mean[:, j] + math.sqrt(prob.beta) * np.sqrt(var[:, j]), mean, var)

    def _build(self, prob: Problem) -> Callable[..., Any]:
        from botorch.acquisition.monte_carlo import qUpperConfidenceBound

        def build(model: Any, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
            return qUpperConfidenceBound(
                model, beta=prob.beta, sampler=prob.sampler(), objective=prob.mc_objective(), X_pending=X_pending
            )

        return build

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        return _mc_sequential(prob, pts, self._build(prob), n)

    def continuous_acqf(self, prob: Problem, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
        return self._build(prob)(prob.surrogate.model, X_baseline, X_pending)


@register_strategy("pi", aliases=("qpi", "probability_of_improvement"))
class QPI(BaseStrategy):
    """``qProbabilityOfImprovement`` over the best posterior mean among the observations."""

    handles_constraints = True

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return _log_pi(prob, mean, var)

    def _build(self, prob: Problem) -> Callable[..., Any]:
        from botorch.acquisition.monte_carlo import qProbabilityOfImprovement

        best_f = prob.best_f_model()

        def build(model: Any, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
            return qProbabilityOfImprovement(
                model,
                best_f=best_f,
                sampler=prob.sampler(),
                objective=prob.mc_objective(),
                constraints=prob.mc_constraints(),
                eta=prob.mc_eta(),
                X_pending=X_pending,
                tau=1e-3,
            )

        return build

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        return _mc_sequential(prob, pts, self._build(prob), n)

    def continuous_acqf(self, prob: Problem, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
        return self._build(prob)(prob.surrogate.model, X_baseline, X_pending)


@register_strategy("mli", aliases=("maximum_likelihood_of_improvement",))
class MLI(BaseStrategy):
    """Maximum likelihood of improvement (Ling et al. 2017): the ``n`` candidates most
    likely to beat the best measured value, each judged on its own."""

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return _log_pi(prob, mean, var)

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        score = np.exp(self.prefilter_score(prob, mean, var))
        idx = _top(score, n)
        return Selection(idx, [float(score[i]) for i in idx], "auto")


@register_strategy("greedy", aliases=("mean", "exploit", "mei"))
class Greedy(BaseStrategy):
    """Greedy baseline: the highest predicted means (multi-objective: the predicted means
    that extend the Pareto front most, by the additive epsilon indicator)."""

    supports_multi = True
    kind = "value"

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        if prob.is_multi_objective:
            return _feasible_first(
                prob, _epsilon_gain(prob, mean[:, prob.objectives], prob.observed_front()), mean, var
            )
        return _feasible_first(prob, mean[:, prob.objectives[0]], mean, var)

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        if not prob.is_multi_objective:
            score = self.prefilter_score(prob, mean, var)
            idx = _top(score, n)
            return Selection(idx, [float(mean[i, prob.objectives[0]]) for i in idx], "value")
        front = prob.observed_front()
        chosen, values = [], []
        for _ in range(n):
            score = _feasible_first(prob, _epsilon_gain(prob, mean[:, prob.objectives], front), mean, var)
            i = _top(score, 1, set(chosen))[0]
            chosen.append(i)
            values.append(float(score[i]))
            front = np.vstack([front, mean[i, prob.objectives]])
        return Selection(chosen, values, "pareto")


def _epsilon_gain(prob: Problem, Y: np.ndarray, front: np.ndarray) -> np.ndarray:
    """How far each row of ``Y`` (``n x k``) lies beyond ``front``: the smallest, over front
    points, of the largest standardized margin; positive means non-dominated."""
    if len(front) == 0:
        return Y.sum(axis=1)
    scale = prob.surrogate.y_std[prob.objectives] if prob.surrogate is not None else np.ones(Y.shape[1])
    out = np.full(len(Y), np.inf)
    for p in front:
        out = np.minimum(out, ((Y - p) / scale).max(axis=1))
    return out


@register_strategy("thompson", aliases=("ts", "thompson_sampling"))
class Thompson(BaseStrategy):
    """Thompson sampling: one joint posterior draw per experiment, each taking the argmax of
    its draw (GP: exact joint draws over the shortlist; ensembles: a random member)."""

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        j = prob.objectives[0]
        # A candidate three standard deviations below others is almost never a draw's argmax.
        return _feasible_first(prob, mean[:, j] + 3.0 * np.sqrt(var[:, j]), mean, var)

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        draws = prob.surrogate.joint_samples(pts, n)  # n x N x m
        chosen, values = [], []
        for k in range(n):
            f = draws[k, :, prob.objectives[0]].copy()
            for j, op, bound, sign in prob.constraints:
                raw = sign * draws[k, :, j]
                f = np.where(raw <= bound if op == "<=" else raw >= bound, f, f - 1e12)
            i = _top(f, 1, set(chosen))[0]
            chosen.append(i)
            values.append(float(draws[k, i, prob.objectives[0]]))
        return Selection(chosen, values, "auto")


@register_strategy("max_variance", aliases=("exploration", "explore", "uncertainty", "mu"))
class MaxVariance(BaseStrategy):
    """Pure exploration: the largest posterior variance of the objectives; for a GP each pick
    is conditioned on the pending experiments and the picks before it."""

    supports_multi = True
    explores_only = True
    kind = "uncertainty"

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return prob.std_score(var)

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        surrogate = prob.surrogate
        if not surrogate.supports_conditioning:
            score = prob.std_score(var)
            idx = _top(score, n)
            prob.notes.append("ensemble variance does not shrink at pending points: took the n largest variances")
            return Selection(idx, [float(score[i]) for i in idx], "uncertainty")
        chosen, values = [], []
        for _ in range(n):
            given = Points.concat([prob.pending, pts.take(chosen)])
            cvar = surrogate.conditional_variance(pts, given)[:, prob.objectives].sum(axis=1)
            i = _top(cvar, 1, set(chosen))[0]
            chosen.append(i)
            values.append(float(cvar[i]))
        return Selection(chosen, values, "uncertainty")


@register_strategy("ivr", aliases=("integrated_variance_reduction", "qnipv"))
class IntegratedVarianceReduction(BaseStrategy):
    """Pure exploration by integrated variance reduction (``qNegIntegratedPosteriorVariance``
    over a sample of the design space); GP only."""

    explores_only = True
    needs_mc_points = True
    kind = "uncertainty"

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return prob.std_score(var)

    def _build(self, prob: Problem) -> Callable[..., Any]:
        from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance

        mc = torch.as_tensor(prob.mc_points.enc, dtype=DTYPE)
        transform = None
        if prob.surrogate.n_outputs > 1:
            from botorch.acquisition.objective import ScalarizedPosteriorTransform

            weights = torch.zeros(prob.surrogate.n_outputs, dtype=DTYPE)
            weights[prob.objectives[0]] = 1.0
            transform = ScalarizedPosteriorTransform(weights)

        def build(model: Any, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
            return qNegIntegratedPosteriorVariance(
                model, mc_points=mc, posterior_transform=transform, X_pending=X_pending
            )

        return build

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        if not prob.surrogate.supports_conditioning:
            prob.notes.append("integrated variance reduction needs a GP; used max_variance with the ensemble")
            return MaxVariance().select(prob, pts, mean, var, n)
        sel = _mc_sequential(prob, pts, self._build(prob), n, chunk=64)
        sel.kind = "uncertainty"
        return sel

    def continuous_acqf(self, prob: Problem, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
        return self._build(prob)(prob.surrogate.model, X_baseline, X_pending)


@register_strategy("random", aliases=("uniform",))
class Random(BaseStrategy):
    """Random baseline: uniform over the remaining candidates (no model is fitted)."""

    supports_multi = True
    needs_model = False
    kind = "random"

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return prob.rng.random(len(mean))

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        idx = prob.rng.choice(len(pts), size=n, replace=False).tolist()
        return Selection(idx, [math.nan] * n, "random")


# ------------------------------------------------------------------------------------
# Multi-objective
# ------------------------------------------------------------------------------------


@register_strategy("qlognehvi", aliases=("qnehvi", "nehvi", "lognehvi"))
class QLogNEHVI(BaseStrategy):
    """``qLogNoisyExpectedHypervolumeImprovement`` with a reference point, joint over the
    batch and the pending experiments."""

    supports_single = False
    supports_multi = True
    handles_constraints = True
    log_scale = True

    def prefilter_score(self, prob: Problem, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        optimistic = mean[:, prob.objectives] + np.sqrt(var[:, prob.objectives])
        return _epsilon_gain(prob, optimistic, prob.observed_front()) + prob.log_p_feasible(mean, var) * 0.1

    def _build(self, prob: Problem) -> Callable[..., Any]:
        from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement

        ref = torch.as_tensor(prob.ref_point, dtype=DTYPE)

        def build(model: Any, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
            return qLogNoisyExpectedHypervolumeImprovement(
                model,
                ref_point=ref,
                X_baseline=X_baseline,
                sampler=prob.sampler(),
                objective=prob.mc_objective(),
                constraints=prob.mc_constraints(),
                eta=prob.mc_eta(),
                X_pending=X_pending,
                prune_baseline=True,
                cache_root=prob.cache_root,
            )

        return build

    def select(self, prob: Problem, pts: Points, mean: np.ndarray, var: np.ndarray, n: int) -> Selection:
        return _mc_sequential(prob, pts, self._build(prob), n, chunk=128)

    def continuous_acqf(self, prob: Problem, X_baseline: Tensor, X_pending: Tensor | None) -> Any:
        return self._build(prob)(prob.surrogate.model, X_baseline, X_pending)
