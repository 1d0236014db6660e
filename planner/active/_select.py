"""The select step of ``suggest``: the candidates left, and the strategy's picks among them.

Pools are scored chunk by chunk with the strategy's analytic prefilter, shortlisted and
handed to the exact batch criterion; continuous designs are optimized with BoTorch where
the strategy gives an acquisition function, else treated as a sampled pool.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.active._candidates import (
    PoolCandidates,
    polish,
    sample_continuous,
    shortlist,
    space_filling,
    torch_constraints,
)
from planner.active._encoding import InputEncoder, row_keys
from planner.active._observations import first_rows
from planner.active._specs import ContinuousDesign, PoolDesign, Target
from planner.exceptions import DataValidationError, DesignSpaceWarning, SpecError

__all__ = ["Picks", "select", "pool_candidates", "reference_point"]


@dataclass
class Picks:
    """What the select step chose.

    Attributes:
        points: The picked experiments (``n``), best first.
        values: The strategy's value at each pick (NaN for model-free picks).
        kind: What drove the picks, for the reasons (a :class:`~planner.active.Selection` kind).
        ref_mean: Posterior mean of every scored candidate (``N x m``), for percentiles.
        ref_var: Their posterior variance (an upper bound where the prefilter bounded it).
        n_scored: How many candidates were scored.
        ref_positions: Row of each pick in ``ref_mean``/``ref_var`` (``None`` where the
            picks are not among the scored candidates).
    """

    points: Any
    values: np.ndarray
    kind: str
    ref_mean: np.ndarray | None = None
    ref_var: np.ndarray | None = None
    n_scored: int = 0
    ref_positions: np.ndarray | None = None


def pool_candidates(
    design: PoolDesign,
    encoder: InputEncoder,
    X_obs: pd.DataFrame,
    pend: pd.DataFrame,
    n: int,
    notes: list[str],
    fallbacks: list[str],
) -> tuple[PoolCandidates, int]:
    """The remaining candidates and the number of suggestions that can be made."""
    inputs, categorical = tuple(design.inputs), tuple(design.categorical)
    keys = None
    if len(X_obs) or len(pend):
        keys = row_keys(pd.concat([X_obs[list(inputs)], pend[list(inputs)]]), inputs, categorical).unique()
    candidates = PoolCandidates(design, encoder, keys)
    if len(X_obs):
        obs_keys = row_keys(X_obs, inputs, categorical)
        not_in_pool = ~obs_keys.isin(candidates.found) if candidates.found is not None else np.ones(len(X_obs), bool)
        if not_in_pool.any():
            text = (
                f"{int(not_in_pool.sum())} observation(s) match no candidate of the pool "
                f"(first {first_rows(X_obs.index[not_in_pool])}); they are used to fit the model"
            )
            warnings.warn(text, DesignSpaceWarning, stacklevel=3)
            notes.append(text)
    if len(candidates) == 0:
        raise DataValidationError(
            f"every usable candidate of the pool ({design.report.n_valid}) is measured or pending; "
            "add candidates or observe the pending experiments"
        )
    if n > len(candidates):
        text = f"asked for {n} suggestions but only {len(candidates)} candidate(s) remain; returning all of them"
        warnings.warn(text, DesignSpaceWarning, stacklevel=3)
        fallbacks.append(text)
        n = len(candidates)
    return candidates, n


def reference_point(
    Y: np.ndarray, targets: Sequence[Target], ref_point: Mapping[str, float] | None, signs: np.ndarray
) -> np.ndarray:
    """The reference point over the objectives (internal orientation, shape ``k``)."""
    k = len(targets)
    if ref_point is not None:
        missing = [t.name for t in targets if t.name not in ref_point]
        if missing:
            raise SpecError(f"ref_point lacks target(s) {missing}; give a value for every target")
        return np.array([signs[j] * float(ref_point[t.name]) for j, t in enumerate(targets)])
    obj = Y[:, :k]
    lo, hi = obj.min(axis=0), obj.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(np.abs(lo), 1.0))
    return lo - 0.1 * span


def continuous_optimize(
    strategy: Any,
    prob: Any,
    design: ContinuousDesign,
    encoder: InputEncoder,
    n: int,
    raw: Any,
    raw_score: np.ndarray,
    n_restarts: int = 4,
) -> Any:
    """Optimize a BoTorch acquisition function over the continuous (mixed) design, one
    experiment at a time (sequential greedy; earlier picks join ``X_pending``).

    Starting points are the best of the feasible sample ``raw`` (by the analytic prefilter
    ``raw_score``, then by the acquisition function itself); from each, SLSQP moves the
    numeric inputs within the bounds and linear constraints while the categorical one-hot
    block stays fixed. Returns ``(Points, values)`` or ``None`` when the strategy works on a
    discretization instead.
    """
    import torch
    from botorch.optim import optimize_acqf

    from planner.active._gp import GPSurrogate
    from planner.active._surrogates import DTYPE, Points

    if not isinstance(prob.surrogate, GPSurrogate) or encoder.featurizer is not None:
        return None
    X_base = torch.as_tensor(prob.observed.enc, dtype=DTYPE)
    X_pend = torch.as_tensor(prob.pending.enc, dtype=DTYPE) if len(prob.pending) else None
    acqf = strategy.continuous_acqf(prob, X_base, X_pend)
    if acqf is None:
        return None
    d, k = encoder.dim, len(design.numeric)
    bounds = torch.zeros(2, d, dtype=DTYPE)
    bounds[1] = 1.0
    for i, name in enumerate(design.numeric):
        bounds[0, i], bounds[1, i] = design.bounds[name]
    eq, ineq = torch_constraints(design)
    short = shortlist(raw_score, None, 256)
    T_raw = torch.as_tensor(raw.enc[short], dtype=DTYPE)
    chosen: list[Any] = []
    values: list[float] = []
    for _ in range(n):
        if chosen:
            acqf.set_X_pending(torch.cat([t for t in (X_pend, torch.stack(chosen)) if t is not None]))
        with torch.no_grad():
            a = torch.cat([acqf(c.unsqueeze(-2)) for c in T_raw.split(128)])
        starts = T_raw[a.argsort(descending=True)[:n_restarts]]
        best_x, best_v = None, -math.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for x0 in starts:
                fixed = {j: float(x0[j]) for j in range(k, d)} or None
                X, v = optimize_acqf(
                    acqf,
                    bounds,
                    q=1,
                    num_restarts=1,
                    batch_initial_conditions=x0.view(1, 1, d),
                    equality_constraints=eq or None,
                    inequality_constraints=ineq or None,
                    fixed_features=fixed,
                    options={"maxiter": 100},
                )
                if float(v) > best_v:
                    best_x, best_v = X.detach().view(d), float(v)
        chosen.append(best_x)
        values.append(best_v)
    X = torch.stack(chosen).numpy().copy()
    X[:, :k] = polish(design, X[:, :k])
    frame = encoder.decode(X)
    return Points(frame, encoder.transform(frame)), np.array(values)


def _model_free(
    strat: Any,
    prob: Any,
    design: PoolDesign | ContinuousDesign,
    candidates: PoolCandidates | None,
    encoder: InputEncoder,
    n: int,
    seed: int,
) -> Picks:
    """Picks without a model: uniform draws for a model-free strategy, else space filling."""
    rng = prob.rng
    draw = not strat.needs_model
    anchors = encoder.unit(np.vstack([prob.observed.enc, prob.pending.enc]))
    if candidates is not None:
        m = len(candidates)
        sub = np.sort(rng.choice(m, size=min(m, 100_000), replace=False)) if m > 100_000 else np.arange(m)
        if draw:
            idx = sub[rng.choice(len(sub), size=n, replace=False)]
            return Picks(candidates.points(idx), np.full(n, math.nan), strat.kind, n_scored=m)
        pts = candidates.points(sub)
    else:
        if draw:
            pts = sample_continuous(design, encoder, n, seed)
            return Picks(pts, np.full(n, math.nan), strat.kind, n_scored=n)
        pts = sample_continuous(design, encoder, design.n_discrete, seed)
    chosen = space_filling(pts, anchors, encoder, n, rng)
    return Picks(pts.take(chosen), np.full(n, math.nan), "space-filling", n_scored=len(pts))


def select(
    strat: Any,
    prob: Any,
    design: PoolDesign | ContinuousDesign,
    candidates: PoolCandidates | None,
    encoder: InputEncoder,
    n: int,
    seed: int,
    notes: list[str],
) -> Picks:
    """Run the strategy on the candidates (or the continuous design)."""
    surrogate = prob.surrogate
    if surrogate is None:
        return _model_free(strat, prob, design, candidates, encoder, n, seed)
    rng = prob.rng

    if candidates is None:
        pool = sample_continuous(design, encoder, design.n_discrete, seed)
        mean, var = surrogate.moments(pool)
        prob.mc_points = pool.take(np.arange(min(len(pool), 256)))
        score = strat.prefilter_score(prob, mean, var)
        result = continuous_optimize(strat, prob, design, encoder, n, pool, score)
        if result is not None:
            pts, values = result
            return Picks(pts, values, strat.kind, mean, var, len(pool))
        notes.append(f"{strat.name} ran on {len(pool)} feasible points sampled from the continuous design")
        short = shortlist(score, prob.std_score(var), prob.shortlist_size)
        sel = strat.select(prob, pool.take(short), mean[short], var[short], n)
        chosen = short[np.asarray(sel.positions, dtype=int)]
        return Picks(pool.take(chosen), np.array(sel.values), sel.kind, mean, var, len(pool), chosen)

    # Pool: analytic scores over every remaining candidate, chunk by chunk.
    N = len(candidates)
    mean = np.empty((N, surrogate.n_outputs))
    var = np.empty((N, surrogate.n_outputs))
    approximate = surrogate.prepare_prefilter(N)
    if approximate:
        notes.append(approximate)
    for idx, pts in candidates.chunks():
        mean[idx], var[idx] = surrogate.prefilter_moments(pts)
    if strat.needs_mc_points:
        prob.mc_points = candidates.points(np.sort(rng.choice(N, size=min(N, 256), replace=False)))
    score = strat.prefilter_score(prob, mean, var)
    short = shortlist(score, prob.std_score(var), prob.shortlist_size)
    pts = candidates.points(short)
    mean_s, var_s = surrogate.moments(pts)  # exact where the prefilter bounded the variances
    if surrogate.prefilter_bounds_variance:
        notes.append(
            f"the prefilter bounded the variances of the {N} candidates by conditioning on a subset of the "
            "observations; the shortlist was scored with the exact posterior"
        )
    sel = strat.select(prob, pts, mean_s, var_s, n)
    chosen = np.asarray(sel.positions, dtype=int)
    return Picks(pts.take(chosen), np.array(sel.values), sel.kind, mean, var, N, short[chosen])
