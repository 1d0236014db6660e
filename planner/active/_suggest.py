"""``suggest``: propose the next experiments for a design space from the observations so far."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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
from planner.active._encoding import InputEncoder, build_encoder, row_keys
from planner.active._reasons import reasons
from planner.active._specs import (
    ContinuousDesign,
    OutcomeConstraint,
    PoolDesign,
    Target,
    parse_outcome_constraints,
    parse_targets,
)
from planner.exceptions import (
    DataQualityWarning,
    DataValidationError,
    DesignSpaceWarning,
    PlannerWarning,
    SpecError,
)

__all__ = ["SuggestionResult", "suggest"]

_LOG_SCALE = {"qlognei", "qlognehvi"}


@dataclass(frozen=True)
class SuggestionResult:
    """The proposed experiments and how they were chosen.

    Attributes:
        table: One row per suggestion (``n`` rows, best first): the inputs; ``<output>_mean``
            and ``<output>_std`` per target (and per constrained outcome) in the data's units;
            ``p_feasible`` when there are outcome constraints; ``acquisition`` (the
            strategy's value at the time of the pick; log scale for the ``qlog*`` strategies);
            ``distance_to_nearest_observed`` (Euclidean, in input space scaled to the unit
            cube of the design); ``reason`` (one line, starting with "high predicted value",
            "high uncertainty", "extends the Pareto front", "space-filling" or "random
            baseline"); for pools ``candidate`` (the row's index label in the pool).
        metadata: For the campaign's log (plain JSON-serializable values): ``strategy``
            (asked), ``strategy_used``, ``model``, ``fallbacks`` (each fallback taken, one
            line), ``notes``, ``seed``, ``targets``, ``outcome_constraints``, ``ref_point``,
            ``beta``, ``acquisition_scale``, ``design``, ``n_observations``, ``n_pending``,
            ``n_candidates``, ``n_scored``, ``pool_report``, ``calibration`` and ``seconds``.
    """

    table: pd.DataFrame
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """Every fallback taken (empty when the request ran as asked)."""
        return tuple(self.metadata.get("fallbacks", ()))

    def __len__(self) -> int:
        return len(self.table)


# ----------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------


def _check_input_table(frame: Any, what: str, inputs: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype=object if c in categorical else float) for c in inputs})
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{what} lacks input column(s) {missing}; the design's inputs are {list(inputs)}. "
            "Rename the columns so they match the campaign inputs."
        )
    for c in inputs:
        if c not in categorical and not pd.api.types.is_numeric_dtype(frame[c]):
            converted = pd.to_numeric(frame[c], errors="coerce")
            bad = converted.isna() & frame[c].notna()
            if bad.any():
                row = frame.index[bad.to_numpy()].tolist()[0]
                raise DataValidationError(
                    f"{what}: column {c!r} must be numeric, but row {row!r} holds {frame[c][bad].iloc[0]!r}; "
                    "fix the value or declare the column categorical"
                )
            frame = frame.assign(**{c: converted})
    return frame


def _drop_rows(frame: pd.DataFrame, bad: np.ndarray, message: str, notes: list[str]) -> pd.DataFrame:
    if bad.any():
        rows = frame.index[bad][:5].tolist()
        text = f"{message}: dropped {int(bad.sum())} row(s) (first {rows})"
        warnings.warn(text, DataQualityWarning, stacklevel=4)
        notes.append(text)
        return frame[~bad]
    return frame


def _check_observations(
    observed_X: Any,
    observed_y: Any,
    inputs: Sequence[str],
    categorical: Sequence[str],
    outputs: Sequence[str],
    notes: list[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Validated observations: the inputs (``n`` rows) and the raw outputs (``n x m``)."""
    X = _check_input_table(observed_X, "observed_X", inputs, categorical)
    if observed_y is None:
        if len(X):
            raise DataValidationError(
                f"observed_X has {len(X)} rows but observed_y is None; pass the measured {list(outputs)}"
            )
        return X, np.zeros((0, len(outputs)))
    if isinstance(observed_y, pd.Series):
        observed_y = observed_y.to_frame()
    if not isinstance(observed_y, pd.DataFrame):
        raise DataValidationError(
            f"observed_y must be a DataFrame with one column per target, got {type(observed_y).__name__}"
        )
    missing = [c for c in outputs if c not in observed_y.columns]
    if missing:
        raise DataValidationError(
            f"observed_y lacks column(s) {missing} (targets and constrained outcomes); it has {list(observed_y.columns)}"
        )
    if len(observed_y) != len(X):
        raise DataValidationError(
            f"observed_X has {len(X)} rows but observed_y has {len(observed_y)}; they must be aligned row by row"
        )
    Y = np.empty((len(X), len(outputs)))
    for j, c in enumerate(outputs):
        col = pd.to_numeric(observed_y[c], errors="coerce")
        bad = col.isna() & observed_y[c].notna()
        if bad.any():
            row = observed_y.index[bad.to_numpy()].tolist()[0]
            raise DataValidationError(
                f"observed_y: column {c!r} must be numeric, but row {row!r} holds {observed_y[c][bad].iloc[0]!r}"
            )
        Y[:, j] = col.to_numpy(dtype=float)
    if np.isinf(Y).any():
        r, j = np.argwhere(np.isinf(Y))[0]
        raise DataValidationError(
            f"observed_y: column {outputs[j]!r} row {observed_y.index[[r]].tolist()[0]!r} is infinite; "
            "remove the row or record a finite value"
        )
    bad_x = X[list(inputs)].isna().any(axis=1).to_numpy()
    X = _drop_rows(X, bad_x, "observations with a missing input", notes)
    Y = Y[~bad_x]
    bad_y = np.isnan(Y).any(axis=1)
    X = _drop_rows(X, bad_y, f"observations with a missing value of {list(outputs)}", notes)
    return X, Y[~bad_y]


# ----------------------------------------------------------------------------------------
# Fitting with fallbacks
# ----------------------------------------------------------------------------------------


#: Share of the observations at a target's worst value from which they count as a floor.
FLOOR_SHARE = 0.1
#: Fewest observations, and fewest at the worst value, for the floor rule.
FLOOR_MIN_OBSERVATIONS, FLOOR_MIN_ROWS = 10, 3
#: Modes of ``suggest(floor=...)``.
FLOOR_MODES = ("failures", "values")
#: Sigmoid width of the "not failed >= 0.5" constraint: the feasibility weight then follows
#: the 0/1 model's level (about 0.08 at 0, 0.5 at 0.5, 0.92 at 1), which estimates the
#: success rate, instead of a step at 0.5 that overstates P(not failed) near a boundary.
FAILURE_ETA = 0.2


def _floor_rows(Y: np.ndarray, n_targets: int) -> list[tuple[int, np.ndarray]]:
    """Targets whose observations pile up at their worst value: ``(index, mask of those rows)``.

    Failed or censored experiments recorded as a floor value (a print scored 0, a cell that
    died at cycle 0) make a step that a GP's smooth model spreads over its neighbours. The
    rule: at least ``FLOOR_MIN_OBSERVATIONS`` observations, of which at least
    ``FLOOR_MIN_ROWS`` and ``FLOOR_SHARE`` equal the worst one, and some do not.
    """
    if len(Y) < FLOOR_MIN_OBSERVATIONS:
        return []
    out = []
    for j in range(n_targets):
        at_floor = Y[:, j] == Y[:, j].min()
        if at_floor.sum() >= FLOOR_MIN_ROWS and at_floor.mean() >= FLOOR_SHARE and not at_floor.all():
            out.append((j, at_floor))
    return out


def _is_gp_request(surrogate: Any) -> bool:
    return isinstance(surrogate, str) and surrogate.lower() in ("gp", "auto")


def _floor_note(name: str, at_floor: np.ndarray, value: float, handled: bool) -> str:
    share = f"{at_floor.mean():.0%} of the observed {name!r} ({int(at_floor.sum())} of {len(at_floor)}) equal its worst value ({value:.4g})"
    if handled:
        return (
            f"{share}: modelled as failed experiments. The GP of {name!r} is fitted to the other runs, "
            f"a second GP models whether a run fails, and the acquisition weighs by P(not failed) "
            f"(column {name}_p_not_failed); pass floor='values' (CLI --floor values) to model them as values"
        )
    return (
        f"{share}: failed or censored experiments? The GP smooths such a step over its neighbours; "
        "floor='failures' (CLI --floor failures) models them as failures, a forest surrogate "
        "(surrogate 'rf', CLI --surrogate rf) models steps"
    )


def _model_failures(
    floors: list[tuple[int, np.ndarray]], observed: Any, Y: np.ndarray, encoder: InputEncoder, outputs: Sequence[str]
) -> tuple[np.ndarray, list[str], list[tuple[int, str, float, float]], list[int], list[str]]:
    """Outputs for a failure-aware model: per floored target, its floor rows get the value a
    GP fitted to the other rows predicts there (so the joint model of the target follows the
    successful runs only: a posterior-mean fantasy changes its mean nowhere), and a 0/1
    ``not failed`` output is appended, constrained to ``>= 0.5``.

    Returns the new outputs, their names, the extra constraints, the targets handled so (in
    the order of their outputs and constraints) and notes.
    """
    from planner.active._surrogates import GPFitError, fit_gp

    Y_fit = Y.copy()
    names, extra, handled, notes = list(outputs), [], [], []
    for j, at_floor in floors:
        ok = ~at_floor
        if ok.sum() < 2 or np.ptp(Y[ok, j]) == 0:
            notes.append(f"too few distinct successful runs of {outputs[j]!r} to model failures apart; kept as values")
            continue
        try:
            gp_ok = fit_gp(observed.enc[ok], Y[ok, j : j + 1], encoder.lower, encoder.upper, [outputs[j]])
        except GPFitError as err:
            notes.append(f"the GP of the successful runs of {outputs[j]!r} failed ({err}); floor kept as values")
            continue
        mean, _ = gp_ok.moments(observed.take(np.flatnonzero(at_floor)))
        Y_fit[at_floor, j] = mean[:, 0]
        Y_fit = np.column_stack([Y_fit, ok.astype(float)])
        names.append(f"{outputs[j]}_not_failed")
        extra.append((len(names) - 1, ">=", 0.5, 1.0))
        handled.append(j)
    return Y_fit, names, extra, handled, notes


def _fit_surrogate(
    surrogate: Any,
    observed: Any,
    Y: np.ndarray,
    encoder: InputEncoder,
    outputs: Sequence[str],
    *,
    seed: int,
    refit: bool,
    signs: np.ndarray,
    fallbacks: list[str],
) -> Any:
    from planner.active._surrogates import GPFitError, choose_surrogate, fit_ensemble, fit_gp

    if isinstance(surrogate, str) and surrogate.lower() in ("gp", "auto"):
        try:
            if surrogate.lower() == "auto":
                return choose_surrogate(observed, Y, encoder, list(outputs), seed=seed)
            return fit_gp(observed.enc, Y, encoder.lower, encoder.upper, list(outputs))
        except GPFitError as err:
            text = f"GP fit failed numerically after retries with jitter ({err}); fell back to a random-forest ensemble"
            warnings.warn(text, PlannerWarning, stacklevel=3)
            fallbacks.append(text)
            surrogate = "rf"
    if isinstance(surrogate, Mapping):
        unknown = [k for k in surrogate if k not in outputs]
        missing = [o for o in outputs if o not in surrogate]
        if unknown or missing:
            raise SpecError(
                f"a per-output surrogate mapping must name exactly the outputs {list(outputs)}; "
                f"unknown {unknown}, missing {missing}"
            )
        surrogate = {outputs.index(k): v for k, v in surrogate.items()}
    try:
        return fit_ensemble(
            surrogate,
            observed,
            Y,
            inputs=list(encoder.inputs),
            features=list(encoder.feature_names),
            refit=refit,
            signs=signs,
            seed=seed,
        )
    except (SpecError, DataValidationError):
        raise
    except Exception as err:  # noqa: BLE001 - any estimator may fail; say which and how
        raise DataValidationError(
            f"the surrogate estimator could not be fitted on the {len(Y)} observations: "
            f"{type(err).__name__}: {str(err).splitlines()[0][:200]}; check the estimator or use surrogate='gp'"
        ) from err


# ----------------------------------------------------------------------------------------
# Selection paths
# ----------------------------------------------------------------------------------------


def _continuous_optimize(
    strategy: Any,
    prob: Any,
    design: ContinuousDesign,
    encoder: InputEncoder,
    n: int,
    raw: Any,
    raw_score: np.ndarray,
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

    from planner.active._surrogates import DTYPE, GPSurrogate, Points

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
    n_restarts = 4
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


# ----------------------------------------------------------------------------------------
# The entry point
# ----------------------------------------------------------------------------------------


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
            input columns); ``None`` when nothing is measured yet.
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
            out-of-bag residuals; the choice and both errors are in the notes), a
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
    from planner.active._strategies import get_strategy

    t0 = time.perf_counter()
    if not isinstance(design, (PoolDesign, ContinuousDesign)):
        raise SpecError(f"design must be a PoolDesign or ContinuousDesign, got {type(design).__name__}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise SpecError(f"n (the number of suggestions) must be a positive integer, got {n!r}")
    n = int(n)
    target_specs = parse_targets(targets)
    constraint_specs = parse_outcome_constraints(outcome_constraints)
    outputs = [t.name for t in target_specs] + [
        c.name for c in constraint_specs if c.name not in {t.name for t in target_specs}
    ]
    signs = np.array([t.sign for t in target_specs] + [1.0] * (len(outputs) - len(target_specs)))
    is_multi = len(target_specs) > 1
    asked = strategy if strategy is not None else ("qlognehvi" if is_multi else "qlognei")
    strat = get_strategy(asked)
    if is_multi and not strat.supports_multi:
        from planner.active._strategies import _STRATEGIES

        ok = sorted(k for k, v in _STRATEGIES.items() if v.supports_multi)
        raise SpecError(f"strategy {asked!r} handles one target, but {len(target_specs)} were given; use one of {ok}")
    if not is_multi and not strat.supports_single:
        raise SpecError(f"strategy {asked!r} needs several targets; with one target use 'qlognei'")
    if ref_point is not None and not is_multi:
        raise SpecError("ref_point is only used with several targets")
    if not (isinstance(beta, (int, float)) and beta >= 0):
        raise SpecError(f"beta must be a non-negative number, got {beta!r}")
    if floor not in FLOOR_MODES:
        raise SpecError(f"floor must be one of {list(FLOOR_MODES)}, got {floor!r}")
    if calibration is not None and not (isinstance(calibration, float) and 0 < calibration < 1):
        raise SpecError(f"calibration is a coverage between 0 and 1 such as 0.9, got {calibration!r}")

    notes: list[str] = []
    categorical = tuple(design.categorical)
    inputs = tuple(design.inputs)
    X_obs, Y_raw = _check_observations(observed_X, observed_y, inputs, categorical, outputs, notes)
    pend = _check_input_table(pending, "pending", inputs, categorical)
    pend = _drop_rows(
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
            warnings.warn(text, DesignSpaceWarning, stacklevel=2)
            notes.append(text)

    request = _Request(
        strategy=strat,
        asked=asked,
        design=design,
        n=n,
        targets=target_specs,
        constraints=constraint_specs,
        outputs=outputs,
        signs=signs,
        surrogate=surrogate,
        ref_point=ref_point,
        beta=float(beta),
        featurizer=featurizer,
        seed=int(seed),
        min_observations=int(min_observations),
        n_mc_samples=int(n_mc_samples if n_mc_samples is not None else (128 if is_multi else 256)),
        shortlist_size=int(shortlist_size if shortlist_size is not None else (300 if is_multi else 1000)),
        refit_surrogate=bool(refit_surrogate),
        calibration=calibration,
        floor=floor,
    )
    with _torch_threads(n_threads), warnings.catch_warnings():
        # Jitter added by linear_operator is routine and already retried on; not the user's concern.
        from linear_operator.utils.warnings import NumericalWarning

        warnings.filterwarnings("ignore", category=NumericalWarning)
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        return _suggest(request, X_obs, Y_raw, pend, notes, t0)


@dataclass(frozen=True)
class _Request:
    """The validated arguments of one :func:`suggest` call."""

    strategy: Any
    asked: str
    design: PoolDesign | ContinuousDesign
    n: int
    targets: tuple[Target, ...]
    constraints: tuple[OutcomeConstraint, ...]
    outputs: list[str]
    signs: np.ndarray
    surrogate: Any
    ref_point: Mapping[str, float] | None
    beta: float
    featurizer: Any
    seed: int
    min_observations: int
    n_mc_samples: int
    shortlist_size: int
    refit_surrogate: bool
    calibration: float | None
    floor: str


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


def _suggest(
    req: _Request, X_obs: pd.DataFrame, Y_raw: np.ndarray, pend: pd.DataFrame, notes: list[str], t0: float
) -> SuggestionResult:
    import torch

    from planner.active._strategies import SHARP_ETA, Problem, get_strategy
    from planner.active._surrogates import Points

    design, outputs, signs, seed, n = req.design, req.outputs, req.signs, req.seed, req.n
    strat = req.strategy
    target_specs, constraint_specs = req.targets, req.constraints
    is_multi = len(target_specs) > 1
    fallbacks: list[str] = []
    Y = Y_raw * signs
    encoder = build_encoder(design, [X_obs, pend], featurizer=req.featurizer)
    observed = Points(X_obs, encoder.transform(X_obs) if len(X_obs) else np.zeros((0, encoder.dim)))
    pending_pts = Points(pend, encoder.transform(pend) if len(pend) else np.zeros((0, encoder.dim)))
    candidates: PoolCandidates | None = None
    if isinstance(design, PoolDesign):
        candidates, n = _pool_candidates(design, encoder, X_obs, pend, n, notes, fallbacks)

    rng = np.random.default_rng(seed)
    used = strat.name
    surrogate_model = None
    # The model's outputs: the measured ones, plus a "not failed" output per floored target.
    Y_fit, fit_outputs, signs_fit = Y, list(outputs), signs
    floors: list[tuple[int, np.ndarray]] = []
    failure_constraints: list[tuple[int, str, float, float]] = []
    handled: list[int] = []  # targets whose floor is modelled as failures
    space_filling_why = ""
    t_fit = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if strat.needs_model:
            if len(Y) < max(1, req.min_observations):
                space_filling_why = (
                    f"only {len(Y)} usable observation(s), at least {max(1, req.min_observations)} are needed "
                    "to fit a model"
                )
            else:
                flat = [outputs[j] for j in range(len(target_specs)) if np.ptp(Y[:, j]) == 0]
                if flat and strat.name not in ("max_variance", "ivr"):
                    text = (
                        f"all observed values of {flat} are identical ({Y_raw[0, outputs.index(flat[0])]:.4g}); "
                        "the model cannot tell better from worse yet, so the suggestions explore (max_variance)"
                    )
                    warnings.warn(text, DataQualityWarning, stacklevel=2)
                    fallbacks.append(text)
                    strat = get_strategy("max_variance")
                    used = strat.name
                floors = _floor_rows(Y, len(target_specs)) if _is_gp_request(req.surrogate) else []
                if floors and req.floor == "failures":
                    Y_fit, fit_outputs, failure_constraints, handled, more = _model_failures(
                        floors, observed, Y, encoder, outputs
                    )
                    notes.extend(more)
                    signs_fit = np.concatenate([signs, np.ones(len(handled))])
                surrogate_model = _fit_surrogate(
                    req.surrogate,
                    observed,
                    Y_fit,
                    encoder,
                    fit_outputs,
                    seed=seed,
                    refit=req.refit_surrogate,
                    signs=signs_fit,
                    fallbacks=fallbacks,
                )
            if surrogate_model is None:
                text = f"space-filling suggestions: {space_filling_why}"
                warnings.warn(text, DataQualityWarning, stacklevel=2)
                fallbacks.append(text)
                used = "space_filling"
        t_fit = time.perf_counter() - t_fit
        if surrogate_model is not None:
            notes.extend(surrogate_model.notes)
            from planner.active._surrogates import GPSurrogate

            for j, at_floor in floors:
                if j in handled or isinstance(surrogate_model, GPSurrogate):
                    value = Y_raw[np.flatnonzero(at_floor)[0], j]
                    text = _floor_note(outputs[j], at_floor, value, j in handled)
                    warnings.warn(text, DataQualityWarning, stacklevel=2)  # the CLI shows warnings
                    notes.append(text)
        ref = None
        if is_multi and surrogate_model is not None:
            ref = _reference_point(Y, target_specs, req.ref_point, signs)
        prob = Problem(
            surrogate=surrogate_model,
            observed=observed,
            observed_y=Y_fit,
            pending=pending_pts,
            objectives=list(range(len(target_specs))),
            constraints=[
                (outputs.index(c.name), c.op, c.bound, float(signs[outputs.index(c.name)])) for c in constraint_specs
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
                [SHARP_ETA] * len(constraint_specs) + [FAILURE_ETA] * len(failure_constraints) if failure_constraints else None
            ),
            feasibility_label=(
                "constraints met" if not failure_constraints
                else "not failed" if not constraint_specs
                else "constraints met and not failed"
            ),
        )
        t_sel = time.perf_counter()
        picks, values, kind, ref_mean, ref_var, n_scored = _select(
            strat, used, prob, design, candidates, encoder, n, seed, notes
        )
        t_sel = time.perf_counter() - t_sel

    if surrogate_model is not None and not strat.handles_constraints and prob.constraints and used != "random":
        notes.append(
            f"{used} ignores outcome constraints in its criterion; candidates predicted infeasible were ranked last"
        )
    table = _assemble(
        picks,
        values,
        kind,
        prob,
        surrogate_model,
        observed,
        encoder,
        outputs,
        signs,
        ref_mean,
        ref_var,
        space_filling_why,
        candidates is not None,
        [outputs[j] for j in handled],
    )
    calibration = None
    if req.calibration is not None and surrogate_model is not None:
        calibration = _calibrate(table, surrogate_model, outputs, req.calibration, notes)
    metadata = {
        "strategy": req.asked,
        "strategy_used": used,
        "model": surrogate_model.name if surrogate_model is not None else None,
        "fallbacks": fallbacks,
        "notes": notes,
        "seed": seed,
        "targets": [(t.name, t.direction) for t in target_specs],
        "outcome_constraints": [(c.name, c.op, c.bound) for c in constraint_specs],
        "floor": req.floor,
        "failed_rows": {outputs[j]: int(mask.sum()) for j, mask in floors if j in handled},
        "ref_point": (
            {t.name: float(signs[j] * ref[j]) for j, t in enumerate(target_specs)} if ref is not None else None
        ),
        "beta": req.beta if used == "qucb" else None,
        "acquisition_scale": "log" if used in _LOG_SCALE else "linear",
        "design": "pool" if candidates is not None else "continuous",
        "n_observations": int(len(Y)),
        "n_pending": int(len(pending_pts)),
        "n_candidates": int(len(candidates)) if candidates is not None else None,
        "n_scored": int(n_scored),
        "pool_report": dataclasses.asdict(design.report) if isinstance(design, PoolDesign) else None,
        "calibration": calibration,
        "seconds": {"fit": round(t_fit, 4), "select": round(t_sel, 4), "total": round(time.perf_counter() - t0, 4)},
    }
    return SuggestionResult(table=table, metadata=metadata)


def _calibrate(
    table: pd.DataFrame, surrogate: Any, outputs: Sequence[str], coverage: float, notes: list[str]
) -> dict[str, dict[str, float]]:
    """Add conformal ``<output>_lower``/``_upper`` columns; returns what was used per output."""
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


def _pool_candidates(
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
                f"(first rows {X_obs.index[not_in_pool][:5].tolist()}); they are used to fit the model"
            )
            warnings.warn(text, DesignSpaceWarning, stacklevel=2)
            notes.append(text)
    if len(candidates) == 0:
        raise DataValidationError(
            f"every usable candidate of the pool ({design.report.n_valid}) is measured or pending; "
            "add candidates or observe the pending experiments"
        )
    if n > len(candidates):
        text = f"asked for {n} suggestions but only {len(candidates)} candidate(s) remain; returning all of them"
        warnings.warn(text, DesignSpaceWarning, stacklevel=2)
        fallbacks.append(text)
        n = len(candidates)
    return candidates, n


def _reference_point(
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


def _select(
    strat: Any,
    used: str,
    prob: Any,
    design: PoolDesign | ContinuousDesign,
    candidates: PoolCandidates | None,
    encoder: InputEncoder,
    n: int,
    seed: int,
    notes: list[str],
) -> tuple[Any, np.ndarray, str, np.ndarray | None, np.ndarray | None, int]:
    """Run the strategy: ``(picked Points, values, reason kind, reference mean, reference var, n scored)``."""

    rng = prob.rng
    surrogate = prob.surrogate
    anchors = encoder.unit(np.vstack([prob.observed.enc, prob.pending.enc]))
    # Model-free paths first.
    if used in ("space_filling", "random"):
        if candidates is not None:
            m = len(candidates)
            sub = np.sort(rng.choice(m, size=min(m, 100_000), replace=False)) if m > 100_000 else np.arange(m)
            if used == "random":
                idx = sub[rng.choice(len(sub), size=n, replace=False)]
                return candidates.points(idx), np.full(n, math.nan), "random", None, None, m
            pts = candidates.points(sub)
        else:
            if used == "random":
                pts = sample_continuous(design, encoder, n, seed)
                return pts, np.full(n, math.nan), "random", None, None, n
            pts = sample_continuous(design, encoder, design.n_discrete, seed)
        chosen = space_filling(pts, anchors, encoder, n, rng)
        return pts.take(chosen), np.full(n, math.nan), "space-filling", None, None, len(pts)

    if candidates is None:
        pool = sample_continuous(design, encoder, design.n_discrete, seed)
        mean, var = surrogate.moments(pool)
        prob.mc_points = pool.take(np.arange(min(len(pool), 256)))
        score = strat.prefilter_score(prob, mean, var)
        result = _continuous_optimize(strat, prob, design, encoder, n, pool, score)
        if result is not None:
            pts, values = result
            return pts, values, strat.kind, mean, var, len(pool)
        notes.append(f"{used} ran on {len(pool)} feasible points sampled from the continuous design")
        short = shortlist(score, prob.std_score(var), prob.shortlist_size)
        sel = strat.select(prob, pool.take(short), mean[short], var[short], n)
        return pool.take(short[sel.positions]), np.array(sel.values), sel.kind, mean, var, len(pool)

    # Pool: analytic scores over every remaining candidate, chunk by chunk.
    N = len(candidates)
    mean = np.empty((N, surrogate.n_outputs))
    var = np.empty((N, surrogate.n_outputs))
    for idx, pts in candidates.chunks():
        mean[idx], var[idx] = surrogate.prefilter_moments(pts)
    if used == "ivr":
        prob.mc_points = candidates.points(np.sort(rng.choice(N, size=min(N, 256), replace=False)))
    score = strat.prefilter_score(prob, mean, var)
    short = shortlist(score, prob.std_score(var), prob.shortlist_size)
    pts = candidates.points(short)
    mean_s, var_s = surrogate.moments(pts)  # exact where the prefilter bounded the variances
    if not np.array_equal(var_s, var[short]):
        notes.append(
            f"the prefilter bounded the variances of the {N} candidates by conditioning on a subset of the "
            "observations; the shortlist was scored with the exact posterior"
        )
    sel = strat.select(prob, pts, mean_s, var_s, n)
    return pts.take(sel.positions), np.array(sel.values), sel.kind, mean, var, N


def _assemble(
    picks: Any,
    values: np.ndarray,
    kind: str,
    prob: Any,
    surrogate: Any,
    observed: Any,
    encoder: InputEncoder,
    outputs: Sequence[str],
    signs: np.ndarray,
    ref_mean: np.ndarray | None,
    ref_var: np.ndarray | None,
    space_filling_why: str,
    is_pool: bool,
    failure_targets: Sequence[str] = (),
) -> pd.DataFrame:
    frame = picks.frame
    table = frame[list(encoder.inputs)].reset_index(drop=True).copy()
    if is_pool:
        table.insert(0, "candidate", frame.index.to_numpy())
    if surrogate is not None:
        mean, var = surrogate.moments(picks)
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
    table["acquisition"] = np.asarray(values, dtype=float)
    if len(observed):
        U_obs = encoder.unit(observed.enc)
        U = encoder.unit(picks.enc)
        table["distance_to_nearest_observed"] = np.sqrt(((U[:, None, :] - U_obs[None, :, :]) ** 2).sum(-1)).min(axis=1)
    else:
        table["distance_to_nearest_observed"] = math.nan
    table["reason"] = reasons(kind, prob, mean, var, ref_mean, ref_var, outputs, signs, space_filling_why, len(table))
    return table
