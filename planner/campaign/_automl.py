"""The campaign's AutoML stage: hand the campaign's data to :mod:`planner.automl`, store results.

Only this module translates campaign vocabulary (roles, targets, groups, budgets, layout) into
the engine's plain arguments; the engine never sees a Campaign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.automl._keys import FAILURE_REASON_ATTR, RESCORED_FROM_ATTR, SOURCE_ATTR, SOURCE_RESCORED
from planner.campaign._freshness import model_freshness, record_training
from planner.campaign._molecules import engine_roles
from planner.campaign._records import TrialEvent
from planner.exceptions import CampaignError, DataValidationError
from planner.layout import (
    FEATURE_CACHE_DIR,
    OPTUNA_FILE,
    RAY_DIR,
    has_model,
    latest_study_name,
    model_dir,
    nested_study_name,
    study_name,
    study_version,
)

if TYPE_CHECKING:
    from pathlib import Path

    from planner.campaign._campaign import Campaign
    from planner.spec import CampaignSpec

# Campaign roles -> engine roles (SMILES and mixtures: see planner.campaign._molecules.engine_roles);
# dates carry no physics, they feed the quality report's timeliness check instead.
# After the training rows change, how many of the previous study's best pipelines are re-scored
# first on the current rows (distinct configurations).
RESCORE_BEST = 5
_ENGINE_ROLE = {"numeric": "numeric", "categorical": "categorical", "smiles": "categorical", "composition": "composition", "date": "ignore"}


@dataclass(frozen=True)
class TrainingData:
    X: pd.DataFrame
    y: pd.Series
    groups: pd.Series | None
    column_roles: dict[str, str]


def training_data(
    spec: CampaignSpec, labelled: pd.DataFrame, target: str, resolve: Callable[[str], Path]
) -> TrainingData:
    """``target``'s rows of ``labelled`` (the campaign's labelled rows): inputs, target values, CV
    groups and column roles; ``resolve`` finds related tables from the campaign directory."""
    if target not in spec.target_names:
        raise CampaignError(f"unknown target {target!r}; this campaign's targets are {spec.target_names}.")
    frame = labelled[labelled[target].notna()].reset_index(drop=True)
    if frame.empty:
        raise DataValidationError(
            f"target {target!r} has no measured values yet; add observations with `planner observe` first."
        )
    roles = engine_roles(spec, _ENGINE_ROLE)
    X = frame[spec.input_names].copy()
    for name, role in roles.items():
        if role == "numeric":
            X[name] = pd.to_numeric(X[name], errors="coerce")
        elif role in {"categorical", "composition"}:
            X[name] = X[name].astype("string").astype(object).where(X[name].notna(), None)
    X, roles = add_related_features(spec, resolve, frame, X, roles)
    groups = None
    if spec.data.group_column:
        raw_groups = frame[spec.data.group_column]
        # A row without a group (an observation that did not say) is a group of its own.
        own = pd.Series([f"_row{i}" for i in range(len(frame))], index=frame.index)
        groups = raw_groups.astype(str).where(raw_groups.notna(), own)
    return TrainingData(X=X, y=frame[target], groups=groups, column_roles=roles)


def add_related_features(
    spec: CampaignSpec, resolve: Callable[[str], Path], frame: pd.DataFrame, X: pd.DataFrame, roles: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Append per-row aggregates of each declared child table (featuretools deep feature synthesis).

    The aggregates summarise each row's own child records (e.g. its first 100 cycles), never
    other rows or targets, so computing them before the CV split leaks nothing.
    """
    if not spec.data.related:
        return X, roles
    from planner.io import read_table
    from planner.steps import relational_features

    roles = dict(roles)
    X = X.copy()
    for table in spec.data.related:
        key = table.key or spec.data.id_column
        child, _ = read_table(resolve(table.path), delimiter=table.delimiter, what=f"related table {table.name!r}")
        features = relational_features(
            frame,
            child,
            parent_key=key,
            child_key=table.child_key,
            time_column=table.time_column,
            value_columns=table.value_columns,
            aggregations=tuple(table.aggregations),
            windows=tuple(table.windows),
            child_name=table.name,
        )
        for column in features.columns:
            X[column] = pd.to_numeric(features[column], errors="coerce").to_numpy()
            roles[column] = "numeric"
    return X, roles


#: Share of a target's budget the final refit and calibration may run past it: --timeout is kept
#: to within 10 %: saving the model, printing the leaderboard and exiting take the rest.
FINAL_GRACE = 0.05


def search_budget(timeout_s: float | None, started_at: float | None) -> float | None:
    """``timeout_s`` minus the seconds spent since ``started_at`` (a :func:`time.monotonic`
    reading: imports, loading), so the whole command ends on time; a budget below the engine's
    minimum is passed as given (the engine refuses it with the reason)."""
    import time

    from planner.automl._driver import MIN_TIMEOUT_S

    if timeout_s is None or timeout_s < MIN_TIMEOUT_S or started_at is None:
        return timeout_s
    return max(MIN_TIMEOUT_S, timeout_s - (time.monotonic() - started_at))


def run_automl(
    campaign: Campaign,
    *,
    targets: list[str] | None = None,
    n_trials: int | None = None,
    timeout_s: float | None = None,
    executor: str | None = None,
    n_workers: int | None = None,
    metric: str | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    address: str | None = None,
    ensemble: bool = True,
) -> dict[str, Any]:
    """Run (or continue) one Optuna study per target, then refit and save each final model.

    The final model is the ensemble that ensemble selection builds from the best trials'
    out-of-fold predictions (the single best pipeline when averaging does not help);
    ``models/<target>/pipeline.json`` records the members and weights. ``ensemble=False``
    saves the single best pipeline.

    With the ``ray`` executor one Ray instance (or cluster connection) serves every target;
    ``address`` (default: ``executor.address`` in campaign.yaml) names an existing cluster,
    otherwise a local instance starts with its session folder under ``.ray/`` in the campaign.

    Returns:
        ``{target: optuna.Study}``.
    """
    import time

    from planner.automl import run_search
    from planner.automl._final import fit_final

    started = time.monotonic()
    spec = campaign.spec
    studies = {}
    budget = timeout_s if timeout_s is not None else spec.budget.timeout_s
    kind = executor or spec.executor.kind
    workers = n_workers if n_workers is not None else spec.executor.n_workers
    shared = None
    if address is not None and kind != "ray":
        from planner.exceptions import SpecError

        raise SpecError(f"--address {address!r} needs the ray executor; add --executor ray (or set executor.kind: ray in campaign.yaml)")
    if kind == "ray":
        from planner.executors import RayExecutor

        shared = RayExecutor(workers, address=address or spec.executor.address, temp_dir=campaign.directory / RAY_DIR)
    names = list(targets or spec.target_names)
    try:
        for i, target in enumerate(names):
            # the budget covers everything: each target gets an equal share of what is left,
            # and its search stops early enough to refit inside that share
            share = None if budget is None else (budget - (time.monotonic() - started)) / (len(names) - i)
            target_start = time.monotonic()
            data = training_data(spec, campaign.labelled_data(), target, campaign._resolve)
            callbacks = []
            if on_trial is not None:
                callbacks.append(lambda study, trial, _t=target: on_trial(TrialEvent.from_trial(_t, study, trial)))
            inputs = _search_inputs(campaign, data, n_trials=n_trials, timeout_s=timeout_s, metric=metric)
            if share is not None:
                inputs["timeout_s"] = max(share - (time.monotonic() - target_start), 1e-3)
            study = run_search(
                **inputs,
                storage_url=campaign.storage_url,
                study_name=_study_for_current_data(campaign, target, data),
                n_workers=workers,
                executor=shared if shared is not None else kind,
                callbacks=callbacks,
                reserve_refit=share is not None,
                feature_cache=campaign.directory / FEATURE_CACHE_DIR,
            )
            studies[target] = study
            if any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
                # fit_final ranks trials by fidelity first (a low-fidelity score never beats a full one)
                bounds = target_bounds(campaign, target)
                left = None if share is None else share - (time.monotonic() - target_start)
                fitted = fit_final(
                    study, data.X, data.y, column_roles=data.column_roles, seed=spec.seed, ensemble=ensemble, timeout_s=left,
                    grace_s=0.0 if share is None else FINAL_GRACE * share, groups=data.groups, bounds=bounds,
                )
                fitted.save(model_dir(campaign.directory, target))
                record_training(campaign.directory, target, len(data.y), campaign.observations())
        failed = {t: _why_nothing_completed(s) for t, s in studies.items() if not _has_complete(s)}
        if failed:
            raise CampaignError(
                "no pipeline completed, so no model was saved, for "
                + "; ".join(f"target {t!r} ({why})" for t, why in failed.items())
                + ". Fix the cause named above (see `planner leaderboard DIR --failed` for every trial's reason), "
                "then run again; the failed trials stay in the study."
            )
    finally:
        if shared is not None:
            shared.shutdown()
    return studies


def _has_complete(study: Any) -> bool:
    return any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


def _why_nothing_completed(study: Any) -> str:
    """The most common reason among the trials of a study in which none completed."""
    from collections import Counter

    trials = study.get_trials(deepcopy=False)
    if not trials:
        return "no trial started: the budget ended first"
    import re

    reasons = [str(t.user_attrs.get(FAILURE_REASON_ATTR) or f"{t.state.name.lower()} without a recorded reason")
               for t in trials]
    # Reasons that differ only in their numbers (a sampled value, a fold) are one reason.
    kinds = Counter(re.sub(r"\d+(\.\d+)?", "#", r) for r in reasons)
    kind, count = kinds.most_common(1)[0]
    example = next(r for r in reasons if re.sub(r"\d+(\.\d+)?", "#", r) == kind)
    return f"{count} of {len(trials)} trial(s): {example}"


def _search_inputs(campaign: Campaign, data: Any, *, n_trials: int | None, timeout_s: float | None, metric: str | None) -> dict[str, Any]:
    """What a search of one target's training data takes from the campaign (the budget's
    defaults come from campaign.yaml); shared by ``run_automl`` and ``nested_automl``."""
    spec = campaign.spec
    return {
        "X": data.X,
        "y": data.y,
        "task": spec.task,
        "search_space": _search_space_path(campaign),
        "n_trials": n_trials if n_trials is not None else spec.budget.n_trials,
        "timeout_s": timeout_s if timeout_s is not None else spec.budget.timeout_s,
        "seed": spec.seed,
        "groups": data.groups,
        "column_roles": data.column_roles,
        "metric": metric,
    }


def _search_space_path(campaign: Campaign) -> str:
    """A bundled name stays a name; a path is resolved from the campaign directory."""
    from planner.automl import bundled_search_spaces

    name = campaign.spec.search_space
    if name in bundled_search_spaces():
        return name
    return str(campaign._resolve(name))


def current_study_name(campaign: Campaign, target: str) -> str:
    """The study of ``target`` on the newest data version in the campaign's storage."""
    import optuna

    default = campaign.directory / OPTUNA_FILE
    if campaign.spec.storage is None and not default.is_file():
        return study_name(target)
    try:
        names = optuna.get_all_study_names(campaign.storage_url)
    except Exception:  # noqa: BLE001 - an unreadable storage: the caller reports it
        return study_name(target)
    return latest_study_name(names, target)


def _study_for_current_data(campaign: Campaign, target: str, data: Any, *, n_rescore: int = RESCORE_BEST) -> str:
    """The study to search ``target`` in: the current one, or a new data version seeded with its best.

    When observations (or sources) changed the training rows since the current study started,
    its scores are not comparable with new ones. A new study ``automl-<target>@vN`` is opened,
    with the same settings, and its first trials re-score the ``n_rescore`` best pipelines of the
    old study on the current rows; the old study is kept.
    """
    import warnings

    import optuna

    from planner.automl._search import STUDY_ATTR, _data_fingerprint
    from planner.exceptions import PlannerWarning

    name = current_study_name(campaign, target)
    try:
        old = optuna.load_study(study_name=name, storage=campaign.storage_url)
    except KeyError:
        return name
    info = dict(old.user_attrs.get(STUDY_ATTR) or {})
    complete = [t for t in old.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    fingerprint = _data_fingerprint(data.X, data.y)
    if not info or not complete or info.get("data_fingerprint") == fingerprint:
        return name
    version = (study_version(name, target) or 1) + 1
    new_name = study_name(target, version)
    best = sorted(complete, key=lambda t: t.value, reverse=old.direction == optuna.study.StudyDirection.MAXIMIZE)
    seen, chosen = set(), []
    for trial in best:
        key = tuple(sorted(trial.params.items()))
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
        if len(chosen) == n_rescore:
            break
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=new_name, storage=campaign.storage_url, direction=old.direction,
                                load_if_exists=True)
    if not study.get_trials(deepcopy=False):
        study.set_user_attr(STUDY_ATTR, {**info, "data_fingerprint": fingerprint, "n_rows": int(len(data.y)),
                                         "previous_study": name})
        for trial in chosen:
            study.enqueue_trial(trial.params, user_attrs={SOURCE_ATTR: SOURCE_RESCORED, RESCORED_FROM_ATTR: f"{name}#{trial.number}"})
    warnings.warn(
        f"the training rows of {target!r} changed since study {name!r} was scored ({info.get('n_rows')} -> "
        f"{len(data.y)} rows); its scores are not comparable with new ones, so the search continues in study "
        f"{new_name!r} on the current rows, re-scoring the {len(chosen)} best pipeline(s) of {name!r} first "
        f"(kept; `planner leaderboard` shows the current study)",
        PlannerWarning,
        stacklevel=3,
    )
    return new_name


def load_study(campaign: Campaign, target: str) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=current_study_name(campaign, target), storage=campaign.storage_url)
    except KeyError as err:
        raise CampaignError(
            f"no AutoML trials for target {target!r} yet; run `planner run {campaign.directory}` first."
        ) from err


def target_bounds(campaign: Campaign, target: str) -> tuple[float | None, float | None] | None:
    """Declared ``(lower, upper)`` of ``target`` in campaign.yaml, or ``None`` when neither is set."""
    spec = next(t for t in campaign.spec.targets if t.name == target)
    return None if spec.lower is None and spec.upper is None else (spec.lower, spec.upper)


def predict_table(
    campaign: Campaign,
    table: Any,
    *,
    targets: list[str] | None = None,
    interval: float | list[float] | tuple[float, ...] | None = None,
) -> pd.DataFrame:
    """Predictions of each target's saved model for the rows of ``table`` (CSV path or frame).

    Per target: ``<target>_prediction`` and ``<target>_std`` (the model's own spread, NaN without
    one), conformal ``<target>_lower``/``_upper`` at each ``interval`` level (default 0.9;
    suffixed ``_80``, ``_95`` when several) or prediction sets for classification, calibrated
    per group when the campaign has a group column and the table carries it, and the flags of
    :func:`planner.automl._calibrate.calibrated_columns` (applicability domain, far outside the
    observed targets, clipped to declared bounds, a note). ``out.attrs["notes"]`` has notes
    about each model, prefixed by its target.
    """
    from planner.automl import load_fitted
    from planner.automl._conformal import check_levels
    from planner.io import read_table

    levels = check_levels(interval)
    if isinstance(table, pd.DataFrame):
        frame, label = table.copy(), "rows to predict"
    else:
        frame, _ = read_table(table, what="file to predict", levels=campaign.spec.level_columns())
        label = str(table)
    spec = campaign.spec
    missing = [c for c in spec.input_names if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{label}: missing input column(s) {missing}; predictions need all of {spec.input_names}."
        )
    _check_prediction_inputs(frame, spec, label)
    out = frame.reset_index(drop=True).copy()
    group_column = spec.data.group_column
    groups = out[group_column].astype(str).to_numpy() if group_column and group_column in out else None
    notes: list[str] = []
    for target in targets or spec.target_names:
        directory = model_dir(campaign.directory, target)
        if not has_model(campaign.directory, target):
            raise CampaignError(
                f"no saved model for target {target!r} ({directory} is missing); run `planner run "
                f"{campaign.directory}` first."
            )
        fitted = load_fitted(directory)
        freshness = model_freshness(campaign, target)
        if freshness.is_stale:
            import warnings

            from planner.exceptions import PlannerWarning

            warnings.warn(freshness.message(campaign.directory), PlannerWarning, stacklevel=2)
        if fitted.oof is None:
            notes.append(
                f"{target}: the saved model has no out-of-fold predictions (saved before calibration or too costly to "
                f"recompute), so its intervals are uncalibrated; run `planner run {campaign.directory}` again to refresh it"
            )
        X = out[spec.input_names].copy()
        roles = engine_roles(spec, _ENGINE_ROLE)
        for name, role in roles.items():
            if role == "numeric":
                X[name] = pd.to_numeric(X[name], errors="coerce")
        X, _ = add_related_features(spec, campaign._resolve, out, X, roles)
        predictions = fitted.predict(X, interval=levels, groups=groups, bounds=target_bounds(campaign, target))
        notes += [f"{target}: {n}" for n in predictions.attrs.get("notes", [])]
        predictions = predictions.reset_index(drop=True)
        for column in predictions.columns:
            out[f"{target}_{column}"] = predictions[column].to_numpy()
    out.attrs["notes"] = list(dict.fromkeys(notes))
    return out


def _check_prediction_inputs(frame: pd.DataFrame, spec: Any, label: str) -> None:
    """Text in a numeric input, or a formula that does not parse, is an error, not a silent NaN."""
    from planner.campaign._validate import _examples, composition_fault

    problems = []
    for spec_input in spec.inputs:
        raw = frame[spec_input.name]
        if spec_input.role == "numeric":
            text = raw.notna() & pd.to_numeric(raw, errors="coerce").isna()
            if text.any():
                problems.append(f"numeric input {spec_input.name!r} has text at {_examples(frame.index[text], raw)}")
        elif spec_input.role == "composition":
            fault = composition_fault(raw[raw.notna()], spec_input.name, label)
            if fault is not None:
                problems.append(fault[0])
    if problems:
        raise DataValidationError(
            f"{label}: " + "; ".join(problems) + ". Write numbers (leave a cell empty if the value is unknown) "
            "and formulas such as 'Li7La3Zr2O12'; nothing was predicted."
        )


def nested_automl(
    campaign: Campaign,
    *,
    targets: list[str] | None = None,
    n_trials: int | None = None,
    timeout_s: float | None = None,
    metric: str | None = None,
    ensemble: bool = True,
) -> dict[str, Any]:
    """Honest estimate of the whole search by nested CV (outer folds never seen by the search).

    Each outer fold scores what ``run_automl`` would save: the selected ensemble, or the single
    best pipeline with ``ensemble=False``.

    Inner studies live in the campaign storage as ``nested-<target>-*``, so a re-run tops them up.

    Returns:
        ``{target: NestedCVResult}``.
    """
    from planner.automl import nested_cv

    spec = campaign.spec
    results = {}
    for target in targets or spec.target_names:
        data = training_data(spec, campaign.labelled_data(), target, campaign._resolve)
        results[target] = nested_cv(
            **_search_inputs(campaign, data, n_trials=n_trials, timeout_s=timeout_s, metric=metric),
            storage_url=campaign.storage_url,
            study_name=nested_study_name(target),
            ensemble=ensemble,
        )
    return results
