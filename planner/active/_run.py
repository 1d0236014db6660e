"""The engine behind :meth:`SuggestRequest.run <planner.active.SuggestRequest.run>`.

The work is split in three steps, each in its own module: fit (:mod:`._fit`: the surrogate and
its fallbacks), select (:mod:`._select`: the candidates and the strategy's picks) and assemble
(:mod:`._assemble`: the table and the metadata); :func:`run_request` checks the observations
and runs them in order. The request is only read here (never imported at run time), so
:mod:`._request` can call this module without an import circle.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from planner.active._encoding import build_encoder
from planner.active._observations import check_input_table, check_observations, drop_rows, first_rows
from planner.active._result import SuggestionResult
from planner.active._specs import ContinuousDesign, PoolDesign
from planner.exceptions import DataQualityWarning, DesignSpaceWarning

if TYPE_CHECKING:
    from planner.active._request import SuggestRequest

__all__ = ["run_request"]


def run_request(
    req: SuggestRequest,
    observed_X: pd.DataFrame | None,
    observed_y: pd.DataFrame | None,
    pending: pd.DataFrame | None = None,
) -> SuggestionResult:
    """Apply a :class:`~planner.active.SuggestRequest` to the observations (see :func:`suggest`)."""
    t0 = time.perf_counter()
    notes: list[str] = []
    design = req.design
    categorical = tuple(design.categorical)
    inputs = tuple(design.inputs)
    X_obs, Y_raw = check_observations(observed_X, observed_y, inputs, categorical, req.outputs, notes)
    pend = check_input_table(pending, "pending", inputs, categorical)
    pend = drop_rows(
        pend, pend[list(inputs)].isna().any(axis=1).to_numpy(), "pending experiments with a missing input", notes
    )

    # Observations outside the design are kept for fitting, but said.
    if isinstance(design, ContinuousDesign) and len(X_obs):
        outside = design.violation(X_obs) > 1e-6
        if outside.any():
            text = (
                f"{int(outside.sum())} observation(s) lie outside the continuous design "
                f"(first {first_rows(X_obs.index[outside])}; {first_rows(X_obs.index[outside], 1)}: "
                f"{design.why_outside(X_obs.loc[X_obs.index[outside][0]])}); they are used to fit the model"
            )
            warnings.warn(text, DesignSpaceWarning, stacklevel=3)
            notes.append(text)

    with _torch_threads(req.n_threads), warnings.catch_warnings():
        # Jitter added by linear_operator is routine and already retried on; not the user's concern.
        from linear_operator.utils.warnings import NumericalWarning

        warnings.filterwarnings("ignore", category=NumericalWarning)
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        return _run(req, X_obs, Y_raw, pend, notes, t0)


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run(
    req: SuggestRequest, X_obs: pd.DataFrame, Y_raw: np.ndarray, pend: pd.DataFrame, notes: list[str], t0: float
) -> SuggestionResult:
    import torch

    from planner.active._assemble import assemble, calibrate, metadata
    from planner.active._fit import FAILURE_ETA, fit_model
    from planner.active._impute import ImputingEncoder, empty_cells_vs_pool_levels, fit_imputation
    from planner.active._problem import SHARP_ETA, Problem
    from planner.active._select import pool_candidates, reference_point, select
    from planner.active._surrogates import Points

    design, outputs, signs, seed, n = req.design, list(req.outputs), req.signs, req.seed, req.n
    fallbacks: list[str] = []
    Y = Y_raw * signs
    imputation = fit_imputation(X_obs, design.inputs, design.categorical)
    if imputation:
        notes.append(imputation.describe())
        pool = design.candidates if isinstance(design, PoolDesign) else None
        for text in empty_cells_vs_pool_levels(imputation, X_obs, pool):
            warnings.warn(text, DataQualityWarning, stacklevel=4)
            notes.append(text)
    base = build_encoder(design, [imputation.fill(X_obs), pend], featurizer=req.featurizer)
    encoder = ImputingEncoder.wrap(base, imputation)
    observed = Points(X_obs, encoder.transform(X_obs) if len(X_obs) else np.zeros((0, encoder.dim)))
    pending_pts = Points(pend, encoder.transform(pend) if len(pend) else np.zeros((0, encoder.dim)))
    candidates = None
    if isinstance(design, PoolDesign):
        candidates, n = pool_candidates(design, encoder, X_obs, pend, n, notes, fallbacks)

    rng = np.random.default_rng(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        fitted = fit_model(req, observed, Y, Y_raw, encoder, notes, fallbacks)
        ref = None
        if req.is_multi and fitted.surrogate is not None:
            ref = reference_point(Y, req.targets, req.ref_point, signs)
        failure_constraints = fitted.failure_constraints
        n_outcome = len(req.constraints)
        prob = Problem(
            surrogate=fitted.surrogate,
            observed=observed,
            observed_y=fitted.Y_fit,
            pending=pending_pts,
            objectives=list(range(len(req.targets))),
            constraints=[
                (outputs.index(c.name), c.op, c.bound, float(signs[outputs.index(c.name)])) for c in req.constraints
            ]
            + failure_constraints,
            beta=req.beta,
            n_mc=req.n_mc_samples,
            shortlist_size=req.shortlist_size,
            seed=seed,
            rng=rng,
            ref_point=ref,
            notes=notes,
            constraint_eta=(
                [SHARP_ETA] * n_outcome + [FAILURE_ETA] * len(failure_constraints) if failure_constraints else None
            ),
            feasibility_label=(
                "constraints met" if not failure_constraints
                else "not failed" if not n_outcome
                else "constraints met and not failed"
            ),
        )
        t_sel = time.perf_counter()
        picks = select(fitted.strategy, prob, design, candidates, encoder, n, seed, notes)
        t_sel = time.perf_counter() - t_sel

    strat = fitted.strategy
    if fitted.surrogate is not None and not strat.handles_constraints and prob.constraints and strat.needs_model:
        notes.append(
            f"{fitted.used} ignores outcome constraints in its criterion; candidates predicted infeasible were ranked last"
        )
    table = assemble(picks, prob, fitted, observed, encoder, req, candidates is not None)
    calibration = None
    if req.calibration is not None and fitted.surrogate is not None:
        warped = (fitted.warp, picks.points, signs) if fitted.warp is not None else None
        calibration = calibrate(table, fitted.surrogate, outputs, req.calibration, notes, warped=warped)
    seconds = {"fit": round(fitted.seconds, 4), "select": round(t_sel, 4), "total": round(time.perf_counter() - t0, 4)}
    meta = metadata(
        req,
        fitted,
        picks,
        ref,
        notes=notes,
        fallbacks=fallbacks,
        n_observations=len(Y),
        n_pending=len(pending_pts),
        candidates=candidates,
        calibration=calibration,
        seconds=seconds,
    )
    meta["imputed_inputs"] = dict(imputation.counts)
    return SuggestionResult(table=table, metadata=meta)
