"""The assemble step of ``suggest``: the suggestion table, its intervals and the metadata."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.active._reasons import reasons
from planner.active._specs import PoolDesign

__all__ = ["assemble", "calibrate", "metadata"]


def assemble(picks: Any, prob: Any, fitted: Any, observed: Any, encoder: Any, req: Any, is_pool: bool) -> pd.DataFrame:
    """One row per pick: inputs, predictions, acquisition value, distance, reason.

    Args:
        picks: The select step's :class:`~planner.active._select.Picks`.
        prob: The :class:`~planner.active.Problem` the strategy saw.
        fitted: The fit step's :class:`~planner.active._fit.Fitted`.
        observed: The observed points.
        encoder: The input encoder.
        req: The :class:`~planner.active.SuggestRequest`.
        is_pool: Whether the design is a pool (the table gains ``candidate``).
    """
    outputs, signs = req.outputs, req.signs
    surrogate = fitted.surrogate
    failure_targets = [outputs[j] for j in fitted.handled]
    points = picks.points
    frame = points.frame
    table = frame[list(encoder.inputs)].reset_index(drop=True).copy()
    if is_pool:
        table.insert(0, "candidate", frame.index.to_numpy())
        id_column = req.design.id_column
        if id_column is not None:
            table.insert(1, id_column, req.design.candidates.loc[frame.index, id_column].to_numpy())
    ref_mean, ref_var = picks.ref_mean, picks.ref_var
    if surrogate is not None:
        mean, var = surrogate.moments(points)
        if ref_mean is not None and picks.ref_positions is not None:
            # Each pick is among the scored candidates: rank it against them with the numbers
            # the table shows (the prefilter's differ by rounding, or bound the variance).
            ref_mean, ref_var = ref_mean.copy(), ref_var.copy()
            ref_mean[picks.ref_positions], ref_var[picks.ref_positions] = mean, var
        if fitted.warp is not None:  # the model works on transformed outputs: report the data's scale
            mean, var = _unwarp(fitted.warp, mean, var)
            if ref_mean is not None:
                ref_mean, ref_var = _unwarp(fitted.warp, ref_mean, ref_var)
            prob = dataclasses.replace(prob, observed_y=fitted.Y_data)
        std = np.sqrt(var)
        for j, name in enumerate(outputs):
            table[f"{name}_mean"] = signs[j] * mean[:, j]
            table[f"{name}_std"] = std[:, j]
        if failure_targets:  # their "not failed" constraints come last; the acquisition's weights
            log_p = prob.log_p_each(mean, var)[:, -len(failure_targets) :]
            for c, name in enumerate(failure_targets):
                table[f"{name}_p_not_failed"] = np.exp(log_p[:, c])
        if prob.constraints:
            table["p_feasible"] = np.exp(prob.log_p_feasible(mean, var))
    else:
        mean = var = None
        for name in outputs:
            table[f"{name}_mean"] = math.nan
            table[f"{name}_std"] = math.nan
    table["acquisition"] = np.asarray(picks.values, dtype=float)
    if len(observed):
        d = encoder.dim - getattr(encoder, "n_indicators", 0)  # in input space: no missing-value indicators
        U_obs = encoder.unit(observed.enc)[:, :d]
        U = encoder.unit(points.enc)[:, :d]
        table["distance_to_nearest_observed"] = np.sqrt(((U[:, None, :] - U_obs[None, :, :]) ** 2).sum(-1)).min(axis=1)
    else:
        table["distance_to_nearest_observed"] = math.nan
    table["reason"] = reasons(
        picks.kind,
        prob,
        mean,
        var,
        ref_mean,
        ref_var,
        outputs,
        signs,
        fitted.space_filling_why,
        len(table),
    )
    if fitted.choice is not None:
        table["reason"] = table["reason"] + f"; model: {fitted.choice['chosen']} (best held-out log predictive density)"
    elif fitted.surrogate is not None and picks.kind not in ("space-filling", "random"):
        table["reason"] = table["reason"] + f"; model: {fitted.surrogate.name}"
    return table


def _unwarp(warp: Any, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moments with the objective (column 0) mapped back to the data's scale."""
    mean, var = mean.copy(), var.copy()
    mean[:, 0], var[:, 0] = warp.moments(mean[:, 0], var[:, 0])
    return mean, var


def calibrate(
    table: pd.DataFrame,
    surrogate: Any,
    outputs: Sequence[str],
    coverage: float,
    notes: list[str],
    *,
    warped: tuple[Any, Any, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Add conformal ``<output>_lower``/``_upper`` columns; returns what was used per output.

    ``warped``: ``(warp, points, signs)`` when the model works on transformed outputs (one
    objective, ``surrogate="robust"``): the interval is built where the model's residuals are
    exchangeable, on the transformed scale, and mapped back through the monotone inverse, so
    it keeps its coverage and is skewed like the data."""
    from scipy.stats import norm

    z = surrogate.held_out_residuals()
    noise = surrogate.noise_variance()
    n = len(z)
    k = math.ceil((n + 1) * coverage)
    out = {}
    for j, name in enumerate(outputs):
        scores = np.sort(z[:, j])
        if k > n:
            q = float(scores[-1])
            notes.append(
                f"{n} observations are too few for a finite {coverage:.0%} conformal quantile of {name!r}; "
                "the intervals use the largest held-out residual"
            )
        else:
            q = float(scores[k - 1])
        if warped is not None and j == 0:
            warp, points, signs = warped
            mean_z, var_z = surrogate.moments(points)
            spread_z = np.sqrt(var_z[:, 0] + noise[0])
            ends = np.sort([warp.inverse(mean_z[:, 0] - q * spread_z), warp.inverse(mean_z[:, 0] + q * spread_z)], axis=0)
            lower, upper = (ends[0], ends[1]) if signs[0] > 0 else (-ends[1], -ends[0])
            table[f"{name}_lower"], table[f"{name}_upper"] = lower, upper
        else:
            spread = np.sqrt(table[f"{name}_std"] ** 2 + noise[j])  # of a new measurement, not of the mean
            table[f"{name}_lower"] = table[f"{name}_mean"] - q * spread
            table[f"{name}_upper"] = table[f"{name}_mean"] + q * spread
        gaussian = float(norm.ppf(0.5 + coverage / 2))
        out[name] = {
            "coverage": coverage,
            "quantile": q,
            "gaussian_quantile": gaussian,
            "factor": q / gaussian,
            "n_scores": n,
        }
    return out


def metadata(
    req: Any,
    fitted: Any,
    picks: Any,
    ref: np.ndarray | None,
    *,
    notes: list[str],
    fallbacks: list[str],
    n_observations: int,
    n_pending: int,
    candidates: Any,
    calibration: Any,
    seconds: dict[str, float],
) -> dict[str, Any]:
    """The JSON-ready log entry of one suggestion (see :class:`~planner.active.SuggestionResult`)."""
    outputs, signs = req.outputs, req.signs
    strat = fitted.strategy
    return {
        "strategy": req.asked,
        "strategy_used": fitted.used,
        "model": fitted.surrogate.name if fitted.surrogate is not None else None,
        "fallbacks": fallbacks,
        "notes": notes,
        "seed": req.seed,
        "targets": [(t.name, t.direction) for t in req.targets],
        "outcome_constraints": [(c.name, c.op, c.bound) for c in req.constraints],
        "floor": req.floor,
        "failed_rows": {outputs[j]: int(mask.sum()) for j, mask in fitted.floors if j in fitted.handled},
        "ref_point": (
            {t.name: float(signs[j] * ref[j]) for j, t in enumerate(req.targets)} if ref is not None else None
        ),
        "beta": req.beta if fitted.surrogate is not None and strat.uses_beta else None,
        "acquisition_scale": "log" if fitted.surrogate is not None and strat.log_scale else "linear",
        "design": "pool" if candidates is not None else "continuous",
        "n_observations": int(n_observations),
        "n_pending": int(n_pending),
        "n_candidates": int(len(candidates)) if candidates is not None else None,
        "n_scored": int(picks.n_scored),
        "pool_report": dataclasses.asdict(req.design.report) if isinstance(req.design, PoolDesign) else None,
        "calibration": calibration,
        "seconds": seconds,
        "model_choice": fitted.choice,
    }
