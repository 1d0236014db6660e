"""``suggest``: propose the next experiments for a design space from the observations so far.

The work is split in three steps, each in its own module: fit (:mod:`._fit`: the surrogate and
its fallbacks), select (:mod:`._select`: the candidates and the strategy's picks) and assemble
(:mod:`._assemble`: the table and the metadata). :func:`suggest` validates its arguments into
a :class:`~planner.active.SuggestRequest` and runs it with :func:`run_request`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from planner.active._encoding import build_encoder
from planner.active._observations import check_input_table, check_observations, drop_rows
from planner.active._request import SuggestionResult, SuggestRequest
from planner.active._specs import ContinuousDesign, OutcomeConstraint, PoolDesign, Target
from planner.exceptions import DesignSpaceWarning

__all__ = ["SuggestionResult", "suggest", "run_request"]


def suggest(
    observed_X: pd.DataFrame | None,
    observed_y: pd.DataFrame | None,
    *,
    design: PoolDesign | ContinuousDesign,
    targets: Sequence[tuple[str, str]] | Mapping[str, str] | Sequence[Target] | str,
    n: int = 5,
    strategy: str | None = None,
    pending: pd.DataFrame | None = None,
    surrogate: Any = "gp",
    outcome_constraints: Sequence[tuple[str, str, float]] | Sequence[OutcomeConstraint] | None = None,
    ref_point: Mapping[str, float] | None = None,
    beta: float = 2.0,
    featurizer: Any = None,
    seed: int = 0,
    min_observations: int = 2,
    n_mc_samples: int | None = None,
    shortlist_size: int | None = None,
    refit_surrogate: bool = True,
    calibration: float | None = None,
    n_threads: int | None = 1,
    floor: str = "values",
) -> SuggestionResult:
    """Propose ``n`` experiments from ``design`` given the observations so far.

    Candidates already measured or pending are never proposed again (pools exclude them; for
    every model-based strategy pending experiments also enter the acquisition function as
    BoTorch ``X_pending``), so two calls in a row with the first call's suggestions passed
    as ``pending`` return different experiments.

    Args:
        observed_X: Inputs of the measured experiments (``n_obs`` rows with the design's
            input columns); ``None`` when nothing is measured yet. Missing inputs are imputed
            for the surrogate as the AutoML pipelines do, fitted on these rows (numeric: the
            median; categorical: the most frequent level; a ``missing:<column>`` indicator
            feature when at least 2 rows miss the column and 2 have it); an input missing in
            every row is a :class:`~planner.exceptions.DataValidationError`.
        observed_y: Measured outputs, row-aligned with ``observed_X``: one column per target
            and per constrained outcome.
        design: A :class:`PoolDesign` (candidate table) or :class:`ContinuousDesign`.
        targets: ``[(name, "max"|"min"), ...]``; several targets make the problem
            multi-objective.
        n: Number of experiments to propose (the batch size ``q``).
        strategy: One of :func:`available_strategies` - ``"qlognei"`` (default for one
            target), ``"qlognehvi"`` (default for several), ``"qucb"``, ``"pi"``, ``"mli"``,
            ``"thompson"``, ``"max_variance"``, ``"ivr"``, ``"greedy"``, ``"random"``.
        pending: Inputs of experiments suggested earlier and not measured yet.
        surrogate: ``"gp"`` (BoTorch ``SingleTaskGP``, ARD Matern-5/2, normalized inputs,
            standardized outcomes, inferred noise), ``"rf"``/``"et"`` (forest ensembles),
            ``"auto"`` (the GP or a random forest, whichever predicts held-out observations
            better: the GP's closed-form leave-one-out residuals against the forest's
            out-of-bag residuals; the choice and both errors are in the notes),
            ``"robust"`` (the GP on the outputs, on their Bilog or on their Yeo-Johnson
            transform, or a random forest, whichever has the best held-out log predictive
            density on the data's scale; output transforms only for one objective without
            outcome constraints or calibration; the choice is in ``metadata["model_choice"]``
            and the reasons, and a transformed GP's table gives the back-transformed
            posterior median and a delta-method spread), a
            scikit-learn regressor or pipeline such as the AutoML's best (forests, bagging
            and stacking give per-member spreads; anything else is bootstrapped), or a
            mapping output name -> one of these.
        outcome_constraints: ``[(name, "<="|">=", bound), ...]`` on measured outcomes.
        ref_point: Hypervolume reference point, target name -> value in the data's units
            (multi-objective; default: the worst observed value minus 10% of the range).
        beta: Exploration weight of ``qucb`` (``mean + sqrt(beta * pi / 2) * |deviation|``).
        featurizer: Maps the input table to numeric descriptors (``n x d``), e.g. the
            composition featurizer the AutoML pipelines use; default: numeric inputs as
            they are and categorical inputs one-hot.
        seed: Makes the suggestions reproducible (also across processes).
        min_observations: Below this many usable observations no model is fitted and the
            suggestions are space-filling (recorded as a fallback).
        n_mc_samples: Monte-Carlo samples of the acquisition functions (default 256 for one
            target, 128 for several, where each sample needs a box decomposition).
        shortlist_size: Candidates passed from the analytic prefilter to the exact batch
            acquisition (default 1000 for one target, 300 for several).
        refit_surrogate: Refit a scikit-learn surrogate on these observations (default);
            ``False`` uses a fitted estimator as given.
        calibration: Target coverage (e.g. ``0.9``) of conformal prediction intervals: the
            table gains ``<output>_lower``/``<output>_upper`` = mean -/+ ``q`` times the
            predictive spread of a new measurement (``std`` and the GP's inferred noise), with
            ``q`` the conformal quantile of held-out standardized residuals (closed-form
            leave-one-out for the GP, 5-fold refits for ensembles), so that the stated
            intervals cover new measurements at that rate. ``None`` (default) skips it.
        n_threads: Torch threads while suggesting (restored afterwards). The default 1 suits
            the many small linear-algebra steps of a GP fit, which extra threads slow down
            on a busy machine; ``None`` keeps the caller's setting.
        floor: What a GP (``surrogate`` ``"gp"`` or ``"auto"``) makes of a target whose
            observations pile up at its worst value (at least 10 observations, of which at
            least 3 and 10% equal the worst, such as failed prints scored 0).
            ``"values"`` (default): the floor is modelled as measured values, with a note.
            ``"failures"``: they are failed experiments. The target's model follows the
            other runs (the floor rows enter at the value a GP of the successful runs
            predicts there), a second GP models the 0/1 outcome "not failed", and the
            acquisition is weighted by it as a soft outcome constraint; the table gains
            ``<target>_p_not_failed`` and the predictions are for a run that works.
            Without such a floor both are the same. In the backtests (benchmarks/active)
            neither is better everywhere: ``"failures"`` found AutoAM's best print sooner
            on held-out seeds (p = 0.1), and later where the optimum sits on the failure
            boundary.

    Returns:
        A :class:`SuggestionResult`.

    Raises:
        SpecError: An unknown strategy, a strategy that does not fit the number of targets,
            or a malformed argument.
        DataValidationError: Missing columns, non-numeric values, or no candidate left.
    """
    request = SuggestRequest.create(
        design=design,
        targets=targets,
        n=n,
        strategy=strategy,
        surrogate=surrogate,
        outcome_constraints=outcome_constraints,
        ref_point=ref_point,
        beta=beta,
        featurizer=featurizer,
        seed=seed,
        min_observations=min_observations,
        n_mc_samples=n_mc_samples,
        shortlist_size=shortlist_size,
        refit_surrogate=refit_surrogate,
        calibration=calibration,
        n_threads=n_threads,
        floor=floor,
    )
    return run_request(request, observed_X, observed_y, pending)


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
                f"(first rows {X_obs.index[outside][:5].tolist()}); they are used to fit the model"
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
    from planner.active._impute import ImputingEncoder, fit_imputation
    from planner.active._select import pool_candidates, reference_point, select
    from planner.active._strategies import SHARP_ETA, Problem
    from planner.active._surrogates import Points

    design, outputs, signs, seed, n = req.design, list(req.outputs), req.signs, req.seed, req.n
    fallbacks: list[str] = []
    Y = Y_raw * signs
    imputation = fit_imputation(X_obs, design.inputs, design.categorical)
    if imputation:
        notes.append(imputation.describe())
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
        calibration = calibrate(table, fitted.surrogate, outputs, req.calibration, notes)
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
