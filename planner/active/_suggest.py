"""``suggest``: propose the next experiments for a design space from the observations so far.

:func:`suggest` validates its arguments into a :class:`~planner.active.SuggestRequest`
(:mod:`._request`) and runs it (:meth:`SuggestRequest.run`: fit, select, assemble).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from planner.active._request import DEFAULT_SURROGATE, SuggestRequest
from planner.active._result import SuggestionResult
from planner.active._specs import ContinuousDesign, OutcomeConstraint, PoolDesign, Target

__all__ = ["suggest"]


def suggest(
    observed_X: pd.DataFrame | None,
    observed_y: pd.DataFrame | None,
    *,
    design: PoolDesign | ContinuousDesign,
    targets: Sequence[tuple[str, str]] | Mapping[str, str] | Sequence[Target] | str,
    n: int = 5,
    strategy: str | None = None,
    pending: pd.DataFrame | None = None,
    surrogate: Any = DEFAULT_SURROGATE,
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
        surrogate: ``"gp-additive"`` (the default: BoTorch ``SingleTaskGP`` with an ARD Matern-5/2
            plus a first-order additive Matern-5/2 kernel, :mod:`planner.active._kernels`, normalized
            inputs, standardized outcomes, inferred noise; fewer experiments to the best than
            BayBE on several benchmark pools), ``"gp"`` (the same GP with the ARD Matern-5/2 alone:
            a third of the fit time),
            ``"rf"``/``"et"`` (forest ensembles),
            ``"auto"`` (the GP or a random forest, whichever predicts held-out observations
            better: the GP's closed-form leave-one-out residuals against the forest's
            out-of-bag residuals; the choice and both errors are in the notes),
            ``"robust"`` (the GP on the outputs, on their Bilog or on their Yeo-Johnson
            transform, or a random forest, whichever has the best held-out log predictive
            density on the data's scale; output transforms only for one objective without
            outcome constraints or calibration; the choice is in ``metadata["model_choice"]``
            and the reasons, and a transformed GP's table gives the back-transformed
            posterior median and a delta-method spread), ``"portfolio"`` (half of the batch,
            rounded up, is the strategy's pick under the GP, the rest its pick under a random
            forest with the GP's picks pending; the GP's rows come first, the ``model`` column and the
            reasons name the model of each row, ``metadata["portfolio"]`` the split; one
            objective and ``n >= 2`` only, otherwise the GP alone), a
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
    return request.run(observed_X, observed_y, pending)
