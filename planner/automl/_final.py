"""The final model of a timed search: refit inside what is left of the budget.

:func:`fit_final` picks the best full-fidelity trial (or the default random forest when
that baseline scored better), refits it on all rows in a forked process with a hard
deadline, then, when the members' predicted refit cost fits in the time left, refits the
ensemble that ensemble selection picks; a refit that runs out of time is killed and the
model before it is kept. Whatever happened is written into the saved spec (``final``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.automl._baselines import baseline_rf
from planner.automl._driver import BASELINES_ATTR, predicted_refit_s, refit_cost_s
from planner.automl._keys import (
    FIDELITY_ATTR,
    FOLD_SCORES_ATTR,
    PARAMS_ATTR,
    PIPELINE_ATTR,
    STD_ATTR,
    TRAIN_ROWS_ATTR,
    rank_by_fidelity,
    study_info,
)
from planner.exceptions import SpecError

__all__ = ["fit_final", "best_trial"]


def best_trial(study: Any) -> Any:
    """The best complete trial: the best at the highest fidelity any complete trial reached,
    unless a lower-fidelity trial clearly beats it (see :func:`~planner.automl._keys.rank_by_fidelity`)."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    if not done:
        raise SpecError(f"study {study.study_name!r} has no completed trial to refit; run the search with a larger budget")
    sign = 1.0 if study_info(study)["direction"] == "minimize" else -1.0
    return rank_by_fidelity(done, sign)[0]


def _best_at(study: Any, fidelity: float, sign: float) -> Any:
    """The best complete trial scored at this fidelity (``None``: none)."""
    from optuna.trial import TrialState

    same = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if abs(float(t.user_attrs.get(FIDELITY_ATTR, 1.0)) - fidelity) < 1e-3]
    return min(same, key=lambda t: (sign * t.value, t.number)) if same else None


def best_affordable(study: Any, budget_s: float, n_rows: int) -> Any:
    """The best complete trial whose predicted refit on ``n_rows`` rows fits in ``budget_s``, in
    :func:`best_trial`'s order (``None``: no refit fits)."""
    from optuna.trial import TrialState

    sign = 1.0 if study_info(study)["direction"] == "minimize" else -1.0
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    return next((t for t in rank_by_fidelity(done, sign) if refit_cost_s(t, n_rows) <= budget_s), None)


def _baseline_refit_s(record: dict[str, Any], n_rows: int) -> float:
    """Predicted seconds to refit a baseline on ``n_rows`` rows (from its folds, like a trial)."""
    return predicted_refit_s(record.get("fit_time_s"), record.get("n_folds"), record.get(TRAIN_ROWS_ATTR), n_rows)


def _fit(params: dict[str, Any], X: pd.DataFrame, y: Any, task: str, column_roles: Mapping[str, str], seed: int, groups: Any, bounds: Any) -> Any:
    from planner.automl._refit import refit

    # calibration (out-of-fold predictions, domain) comes after, in the time then left
    return refit(params, X, y, task=task, column_roles=column_roles, seed=seed, groups=groups, bounds=bounds, calibrate=False)


def _calibrate(fitted: Any, X: pd.DataFrame, y: Any, groups: Any, study: Any, members: list[int], weights: list[float]) -> Any:
    from planner.automl._refit import calibrate_fitted

    return calibrate_fitted(fitted, X, y, groups=groups, study=study, members=members, weights=weights)


def _warm(params: dict[str, Any], task: str, roles: Mapping[str, str], seed: int) -> None:
    """Build the chosen pipeline once here, so the refit and calibration processes forked from
    this one inherit its modules instead of each importing them on the clock (about 1 s under load)."""
    from planner.automl._build import build_pipeline

    try:
        build_pipeline(params, task=task, column_roles=roles, seed=seed)
    except Exception:  # noqa: BLE001,S110 - the refit itself reports what is wrong with the spec
        pass


def _snapshot(study: Any) -> Any:
    """An in-memory copy of the study (same trial numbers), for a forked process: no database
    connection crosses the fork."""
    import optuna

    copy = optuna.create_study(storage=optuna.storages.InMemoryStorage(), study_name=study.study_name, directions=study.directions)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    copy.add_trials(study.get_trials(deepcopy=False))
    return copy


def fit_final(
    study: Any,
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    column_roles: Mapping[str, str] | None = None,
    seed: int | None = None,
    ensemble: bool = True,
    timeout_s: float | None = None,
    grace_s: float = 0.0,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    bounds: tuple[float | None, float | None] | None = None,
) -> Any:
    """Refit the study's final model on all rows, inside ``timeout_s`` when given.

    Args:
        study: A study from :func:`~planner.automl.run_search`.
        X: Features, `n x d` (the rows the study searched).
        y: Target, `n`.
        column_roles: Override the roles stored on the study.
        seed: Override the study's seed.
        ensemble: Try the selected ensemble after the single best pipeline.
        timeout_s: Seconds for all refits together (``None``: no limit, no extra process).
        grace_s: Extra seconds the single best pipeline's refit may take past ``timeout_s``
            (the budget's tolerance): a search that used its time still saves a model.
        groups: Group per row (grouped CV folds of the out-of-fold predictions).
        bounds: The target's physical bounds, stored with the model (see :func:`~planner.automl.refit`).

    Returns:
        The :class:`~planner.automl.FittedPipeline`, ``spec["final"]`` saying what was
        refitted and why.

    Raises:
        SpecError: No complete trial, or not even the single best pipeline could be refitted
            in time (the message says how long it took and what to give).
    """
    from planner.automl._ensemble import ensemble_params, select_ensemble
    from planner.automl._worker import call_with_deadline, fork_available

    started = time.monotonic()
    info = study_info(study)
    task = info["task"]
    roles = dict(column_roles if column_roles is not None else info["column_roles"])
    seed = int(info["seed"] if seed is None else seed)
    X = X.reset_index(drop=True)
    y_arr = np.asarray(y)
    notes: list[str] = []
    cap = info.get("row_cap")
    if cap is not None and cap < len(y_arr):
        keep = np.sort(np.random.default_rng(seed).choice(len(y_arr), size=int(cap), replace=False))
        X, y_arr = X.iloc[keep].reset_index(drop=True), y_arr[keep]
        groups = None if groups is None else np.asarray(groups)[keep]
        notes.append(f"refitted on the same seeded subsample of {cap} rows the search used (memory)")
    chosen = best_trial(study)
    room = None if timeout_s is None else timeout_s + grace_s
    if room is not None and refit_cost_s(chosen, len(y_arr)) > room:
        # a refit predicted not to fit the time left is not chosen over a cheaper comparable trial
        affordable = best_affordable(study, room, len(y_arr))
        if affordable is not None and affordable.number != chosen.number:
            notes.append(
                f"the best trial #{chosen.number} ({chosen.value:.4g} in CV) would take about {refit_cost_s(chosen, len(y_arr)):.0f} s to refit, more than the "
                f"{room:.0f} s left; #{affordable.number} ({affordable.value:.4g} in CV at fidelity {float(affordable.user_attrs.get(FIDELITY_ATTR, 1.0)):.3g}), the best whose refit fits, is the final model"
            )
            chosen = affordable
    params, source = dict(chosen.user_attrs[PARAMS_ATTR]), {"trial": chosen.number, "cv_mean": chosen.value}
    sign = 1.0 if info["direction"] == "minimize" else -1.0
    forest = next((b for b in study.user_attrs.get(BASELINES_ATTR) or [] if b.get("name") == "random_forest"), None)
    rival = _best_at(study, float(forest.get(FIDELITY_ATTR, 1.0)), sign) if forest and forest.get("status") == "complete" and forest.get("mean") is not None else None
    forest_wins = rival is not None and sign * forest["mean"] < sign * rival.value
    if forest_wins and room is not None and _baseline_refit_s(forest, len(y_arr)) > room:
        notes.append(f"the default random forest scored {forest['mean']:.4g} in CV but would take about {_baseline_refit_s(forest, len(y_arr)):.0f} s to refit ({room:.0f} s left); not chosen")
        forest_wins = False
    # the ensemble of the best full-fidelity trials, selected once (None: too few with out-of-fold predictions)
    selection = select_ensemble(study, y_arr, fidelity=1.0) if ensemble else None
    deferred_forest = None
    if forest_wins and selection is not None and len(selection.trials) > 1 and sign * selection.score < sign * forest["mean"]:
        # the forest beat every single trial, but not the ensemble of the best trials
        notes.append(
            f"the default random forest scored {forest['mean']:.4g} in CV, better than every single trial at the same fidelity, "
            f"but the selected ensemble of trials {list(selection.trials)} scored {selection.score:.4g} out of fold; the ensemble is the final model"
        )
        forest_wins, deferred_forest = False, forest
    if forest_wins:
        # compared at the fidelity the forest was scored at, never across fidelities
        params, source = baseline_rf(task), {"trial": None, "cv_mean": forest["mean"], "baseline": "random_forest"}
        notes.append(
            f"the default random forest scored {forest['mean']:.4g} in CV, better than every trial at the same fidelity "
            f"({float(forest.get(FIDELITY_ATTR, 1.0)):.0%} of the full cross-validation's training work; best there #{rival.number}: {rival.value:.4g}); "
            "it is the final model"
        )

    def left() -> float | None:
        return None if timeout_s is None else timeout_s - (time.monotonic() - started)

    def fit(p: dict[str, Any], extra_s: float = 0.0) -> tuple[Any, str | None]:
        if timeout_s is None or not fork_available():
            return _fit(p, X, y_arr, task, roles, seed, groups, bounds), None
        return call_with_deadline(_fit, p, X, y_arr, task, roles, seed, groups, bounds, limit_s=max(0.0, (left() or 0.0) + extra_s))

    _warm(params, task, roles, seed)
    fitted, why = fit(params, grace_s)
    if fitted is None and source.get("baseline") is None and timeout_s is not None:
        # a refit slower than its folds predicted: fall back to the quickest complete trial
        from optuna.trial import TrialState

        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.number != chosen.number]
        if done:
            quick = min(done, key=lambda t: refit_cost_s(t, len(y_arr)))
            fitted, why_quick = fit(dict(quick.user_attrs[PARAMS_ATTR]), grace_s)
            if fitted is not None:
                notes.append(f"the best trial #{chosen.number} could not be refitted in time ({why}); the quickest complete trial #{quick.number} ({quick.value:.4g} in CV) was")
                chosen, source = quick, {"trial": quick.number, "cv_mean": quick.value}
    if fitted is None:
        raise SpecError(
            f"the best pipeline ({chosen.user_attrs.get(PIPELINE_ATTR, '?')}) could not be refitted on all {len(y_arr)} rows within the budget ({why}); "
            f"its predicted refit took {refit_cost_s(chosen, len(y_arr)):.0f} s: give a larger --timeout"
        )
    final: dict[str, Any] = {**source, "ensemble": None, "notes": notes}
    if ensemble and source.get("baseline") is None:
        lifted = float(chosen.user_attrs.get(FIDELITY_ATTR, 1.0)) < 1.0
        if selection is not None and len(selection.trials) > 1 and lifted and sign * selection.score >= sign * chosen.value:
            # the chosen low-fidelity trial beat every full-fidelity one; their ensemble must beat it too
            notes.append(f"ensemble of full-fidelity trials ({selection.score:.4g}) not better than trial #{chosen.number} ({chosen.value:.4g}); the single best pipeline is kept")
            selection = None
        if selection is not None and len(selection.trials) > 1:
            trials = {t.number: t for t in study.get_trials(deepcopy=False)}
            cost = sum(refit_cost_s(trials[n], len(y_arr)) for n in selection.trials)
            remaining = left()
            if remaining is not None and cost > remaining:
                notes.append(f"ensemble of {len(selection.trials)} pipelines not refitted: predicted {cost:.0f} s, {remaining:.0f} s left")
            else:
                candidate, why = fit(ensemble_params(study, selection))
                if candidate is None:
                    notes.append(f"ensemble refit stopped ({why}); the single best pipeline is kept")
                else:
                    fitted = candidate
                    final["ensemble"] = selection.to_dict()
    if deferred_forest is not None and final["ensemble"] is None:
        # the ensemble that beat the forest could not be refitted: the forest, not a worse single trial
        candidate, why = fit(baseline_rf(task))
        if candidate is not None:
            fitted, source = candidate, {"trial": None, "cv_mean": deferred_forest["mean"], "baseline": "random_forest"}
            final = {**source, "ensemble": None, "notes": notes}
            notes.append("the ensemble was not refitted, so the default random forest is the final model")
    if final["ensemble"] is not None:
        members, weights = list(final["ensemble"]["trials"]), list(final["ensemble"]["weights"])
    else:
        members, weights = ([] if source.get("baseline") else [chosen.number]), ([] if source.get("baseline") else [1.0])
    from planner.automl._refit import attach_domain, decision_entry

    # the objective's decision rule (balanced accuracy) before the calibration, whose out-of-fold labels follow it
    fitted = type(fitted)(estimator=fitted.estimator, spec={**fitted.spec, **decision_entry(info["metric"], y_arr, fitted.estimator)}, domain=fitted.domain)
    # the applicability domain first: cheap, and kept even when the out-of-fold predictions do not fit
    try:
        fitted = attach_domain(fitted, X, y_arr, groups=groups)
    except Exception as err:  # noqa: BLE001 - the model is saved all the same; predict says the domain is unknown
        notes.append(f"no applicability domain saved with the model: {type(err).__name__}: {err}")
    if timeout_s is None or not fork_available():
        calibrated, why = _calibrate(fitted, X, y_arr, groups, study, members, weights), None
    else:
        try:
            snapshot = _snapshot(study)
        except Exception as err:  # noqa: BLE001 - the model is saved all the same, without calibration
            calibrated, why = None, f"the study could not be copied for the refit process: {type(err).__name__}: {err}"
        else:
            # the calibration is optional: only in the budget itself (the grace is the refit's, which is not)
            calibrated, why = call_with_deadline(_calibrate, fitted, X, y_arr, groups, snapshot, members, weights, limit_s=max(0.0, left() or 0.0))
    if calibrated is None:
        notes.append(f"no out-of-fold predictions saved with the model ({why}); intervals are not calibrated")
        fitted = type(fitted)(estimator=fitted.estimator, spec={**fitted.spec, "calibration": {"source": None, "note": f"not computed within the budget ({why})"}}, domain=fitted.domain)
    else:
        fitted = calibrated
    spec = dict(fitted.spec)
    attrs = chosen.user_attrs
    spec.update(
        study=study.study_name,
        trial=final["trial"] if final["ensemble"] is None else final["ensemble"]["trials"][0],
        search_space=info.get("search_space"),
        cv={"metric": info["metric"], "mean": source["cv_mean"], "std": attrs.get(STD_ATTR) if source.get("baseline") is None else None, "fold_scores": attrs.get(FOLD_SCORES_ATTR) if source.get("baseline") is None else None, "cv": info.get("cv")},
        ensemble=final["ensemble"],
        final={**final, "refit_s": round(time.monotonic() - started, 2)},
        notes=[*spec.get("notes", []), *notes],
    )
    return type(fitted)(estimator=fitted.estimator, spec=spec, oof=fitted.oof, domain=fitted.domain)

