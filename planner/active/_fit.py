"""The fit step of ``suggest``: the surrogate of the outputs, with its fallbacks.

:func:`fit_model` turns a request and the validated observations into a :class:`Fitted`
(the surrogate or why there is none, the outputs it was fitted to, the strategy that will
run, and the failure model of floored targets).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.active._encoding import InputEncoder
from planner.exceptions import DataQualityWarning, DataValidationError, PlannerWarning, SpecError

__all__ = ["Fitted", "fit_model", "fit_surrogate", "floor_rows", "FLOOR_SHARE", "FAILURE_ETA"]

#: Share of the observations at a target's worst value from which they count as a floor.
FLOOR_SHARE = 0.1
#: Fewest observations, and fewest at the worst value, for the floor rule.
FLOOR_MIN_OBSERVATIONS, FLOOR_MIN_ROWS = 10, 3
#: Sigmoid width of the "not failed >= 0.5" constraint: the feasibility weight then follows
#: the 0/1 model's level (about 0.08 at 0, 0.5 at 0.5, 0.92 at 1), which estimates the
#: success rate, instead of a step at 0.5 that overstates P(not failed) near a boundary.
FAILURE_ETA = 0.2


@dataclass
class Fitted:
    """What the fit step produced.

    Attributes:
        strategy: The strategy that will run (the asked one, or ``max_variance`` when every
            observed value is the same).
        used: Its name for the log (``"space_filling"`` when no model could be fitted).
        surrogate: The fitted model, or ``None``.
        Y_fit: The outputs the model was fitted to (internal orientation; a ``not failed``
            column per target whose floor is modelled as failures).
        fit_outputs: Their names.
        floors: Targets whose observations pile up at the worst value: ``(index, mask)``.
        failure_constraints: The ``not failed >= 0.5`` constraints of the failure model.
        handled: Targets whose floor is modelled as failures.
        space_filling_why: Why no model was fitted (empty when one was).
        seconds: Wall time of the fit.
        warp: The output transform of the objective the model works in (``surrogate="robust"``
            when a transformed GP won), else ``None``.
        Y_data: The outputs in the data's scale (internal orientation), for the table.
        choice: ``surrogate="robust"``: the chosen model and every candidate's score.
    """

    strategy: Any
    used: str
    surrogate: Any
    Y_fit: np.ndarray
    fit_outputs: list[str]
    floors: list[tuple[int, np.ndarray]] = field(default_factory=list)
    failure_constraints: list[tuple[int, str, float, float]] = field(default_factory=list)
    handled: list[int] = field(default_factory=list)
    space_filling_why: str = ""
    seconds: float = 0.0
    warp: Any = None
    Y_data: np.ndarray | None = None
    choice: dict[str, Any] | None = None


def floor_rows(Y: np.ndarray, n_targets: int) -> list[tuple[int, np.ndarray]]:
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


def is_gp_request(surrogate: Any) -> bool:
    """Whether ``surrogate`` asks for the GP (``"gp"``, ``"gp-additive"``, ``"auto"`` or ``"robust"``)."""
    return isinstance(surrogate, str) and surrogate.lower() in ("gp", "gp-additive", "auto", "robust")


def floor_note(name: str, at_floor: np.ndarray, value: float, handled: bool) -> str:
    """The note on a floored target (modelled as failures, or a hint that it could be)."""
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


def model_failures(
    floors: list[tuple[int, np.ndarray]], observed: Any, Y: np.ndarray, encoder: InputEncoder, outputs: Sequence[str]
) -> tuple[np.ndarray, list[str], list[tuple[int, str, float, float]], list[int], list[str]]:
    """Outputs for a failure-aware model: per floored target, its floor rows get the value a
    GP fitted to the other rows predicts there (so the joint model of the target follows the
    successful runs only: a posterior-mean fantasy changes its mean nowhere), and a 0/1
    ``not failed`` output is appended, constrained to ``>= 0.5``.

    Returns the new outputs, their names, the extra constraints, the targets handled so (in
    the order of their outputs and constraints) and notes.
    """
    from planner.active._gp import fit_gp
    from planner.exceptions import GPFitError

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


def fit_surrogate(
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
    """Fit the surrogate asked for; a GP that fails numerically falls back to a forest."""
    from planner.active._ensemble import fit_ensemble
    from planner.active._gp import choose_surrogate, fit_gp
    from planner.exceptions import GPFitError

    if is_gp_request(surrogate):
        try:
            if surrogate.lower() == "auto":
                return choose_surrogate(observed, Y, encoder, list(outputs), seed=seed)
            kernel = "additive" if surrogate.lower() == "gp-additive" else "matern"
            if callable(getattr(encoder.featurizer, "fit_gp", None)):  # a representation with its own kernel
                return encoder.featurizer.fit_gp(observed.enc, Y, encoder, list(outputs), kernel=kernel)
            return fit_gp(observed.enc, Y, encoder.lower, encoder.upper, list(outputs), kernel=kernel)
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
        surrogate = {list(outputs).index(k): v for k, v in surrogate.items()}
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


def fit_model(
    req: Any,
    observed: Any,
    Y: np.ndarray,
    Y_raw: np.ndarray,
    encoder: InputEncoder,
    notes: list[str],
    fallbacks: list[str],
) -> Fitted:
    """The fit step: decide whether a model can be fitted, fit it, and say what happened.

    Must run inside the caller's seeded torch RNG context (the GP fit draws random starts).
    """
    import time

    from planner.active._strategies import get_strategy

    t0 = time.perf_counter()
    outputs, signs = list(req.outputs), req.signs
    n_targets = len(req.targets)
    out = Fitted(
        strategy=req.strategy, used=req.strategy.name, surrogate=None, Y_fit=Y, fit_outputs=list(outputs), Y_data=Y
    )
    signs_fit = signs
    if out.strategy.needs_model:
        flat = [outputs[j] for j in range(n_targets) if np.ptp(Y[:, j]) == 0] if len(Y) else []
        if not len(Y):
            out.space_filling_why = "no observation yet (a cold start): the first batch spreads over the design"
        elif len(Y) < max(1, req.min_observations):
            out.space_filling_why = (
                f"only {len(Y)} usable observation(s), at least {max(1, req.min_observations)} are needed "
                "to fit a model"
            )
        elif len(flat) == n_targets and not is_gp_request(req.surrogate):
            # An ensemble fitted to one value has no spread: its "exploration" would rank
            # every candidate alike and return the pool's first rows.
            out.space_filling_why = (
                f"all observed values of {flat} are identical ({Y_raw[0, outputs.index(flat[0])]:.4g}); "
                "an ensemble fitted to one value has no spread to explore by"
            )
        else:
            if flat and not out.strategy.explores_only:
                text = (
                    f"all observed values of {flat} are identical ({Y_raw[0, outputs.index(flat[0])]:.4g}); "
                    "the model cannot tell better from worse yet, so the suggestions explore (max_variance)"
                )
                warnings.warn(text, DataQualityWarning, stacklevel=3)
                fallbacks.append(text)
                out.strategy = get_strategy("max_variance")
                out.used = out.strategy.name
            out.floors = floor_rows(Y, n_targets) if is_gp_request(req.surrogate) else []
            if out.floors and req.floor == "failures":
                out.Y_fit, out.fit_outputs, out.failure_constraints, out.handled, more = model_failures(
                    out.floors, observed, Y, encoder, outputs
                )
                notes.extend(more)
                signs_fit = np.concatenate([signs, np.ones(len(out.handled))])
            if isinstance(req.surrogate, str) and req.surrogate.lower() == "robust":
                out.surrogate = _fit_robust(req, out, observed, encoder, fallbacks)
            if out.surrogate is None:
                out.surrogate = fit_surrogate(
                    "rf" if isinstance(req.surrogate, str) and req.surrogate.lower() == "robust" else req.surrogate,
                    observed,
                    out.Y_fit,
                    encoder,
                    out.fit_outputs,
                    seed=req.seed,
                    refit=req.refit_surrogate,
                    signs=signs_fit,
                    fallbacks=fallbacks,
                )
        if out.surrogate is None:
            text = f"space-filling suggestions: {out.space_filling_why}"
            warnings.warn(text, DataQualityWarning, stacklevel=3)
            fallbacks.append(text)
            out.used = "space_filling"
    out.seconds = time.perf_counter() - t0
    if out.surrogate is not None:
        notes.extend(out.surrogate.notes)
        from planner.active._gp import GPSurrogate

        for j, at_floor in out.floors:
            if j in out.handled or isinstance(out.surrogate, GPSurrogate):
                value = Y_raw[np.flatnonzero(at_floor)[0], j]
                text = floor_note(outputs[j], at_floor, value, j in out.handled)
                warnings.warn(text, DataQualityWarning, stacklevel=3)  # the CLI shows warnings
                notes.append(text)
    return out


def _fit_robust(req: Any, out: Fitted, observed: Any, encoder: InputEncoder, fallbacks: list[str]) -> Any:
    """``surrogate="robust"`` (see :mod:`planner.active._robust`); ``None`` after a failed GP
    fit (the caller then fits the forest, as for ``"gp"``)."""
    from planner.active._robust import fit_robust
    from planner.exceptions import GPFitError

    # Output transforms only where nothing else reads the outputs' scale: one objective, no
    # outcome constraint, no failure model (conformal intervals are built on the transformed
    # scale and mapped back: see _assemble.calibrate).
    warp_allowed = len(req.targets) == 1 and not req.constraints and not out.handled
    try:
        model, warp, scores, note = fit_robust(
            observed, out.Y_fit, encoder, out.fit_outputs, seed=req.seed, warp_allowed=warp_allowed
        )
    except GPFitError as err:
        text = f"GP fit failed numerically after retries with jitter ({err}); fell back to a random-forest ensemble"
        warnings.warn(text, PlannerWarning, stacklevel=4)
        fallbacks.append(text)
        return None
    chosen = note.split(": ", 1)[1].split(" (", 1)[0]
    out.choice = {"chosen": chosen, "held_out_log_density": scores}
    if warp is not None:
        out.warp = warp
        out.Y_fit = out.Y_fit.copy()
        out.Y_fit[:, 0] = warp.forward(out.Y_fit[:, 0])
        model.name = f"{model.name} on {warp.name}-transformed outputs"
    model.notes.append(note)
    return model
