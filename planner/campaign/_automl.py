"""The campaign's AutoML stage: hand the campaign's data to :mod:`planner.automl`, store results.

Only this module translates campaign vocabulary (roles, targets, groups, budgets, layout) into
the engine's plain arguments; the engine never sees a Campaign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.campaign._layout import model_dir, study_name
from planner.exceptions import CampaignError, DataValidationError

if TYPE_CHECKING:
    from planner.campaign._campaign import Campaign

# Campaign roles -> engine roles. SMILES are categorical until a molecular featurizer lands;
# dates carry no physics, they feed the quality report's timeliness check instead.
_ENGINE_ROLE = {"numeric": "numeric", "categorical": "categorical", "smiles": "categorical", "composition": "composition", "date": "ignore"}


@dataclass(frozen=True)
class TrainingData:
    X: pd.DataFrame
    y: pd.Series
    groups: pd.Series | None
    column_roles: dict[str, str]


def training_data(campaign: Campaign, target: str) -> TrainingData:
    """Labelled rows for ``target``: inputs, target values, CV groups and column roles."""
    spec = campaign.spec
    if target not in spec.target_names:
        raise CampaignError(f"unknown target {target!r}; this campaign's targets are {spec.target_names}.")
    frame = campaign.labelled_data()
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if frame.empty:
        raise DataValidationError(
            f"target {target!r} has no measured values yet; add observations with `planner observe` first."
        )
    roles = {i.name: _ENGINE_ROLE[i.role] for i in spec.inputs}
    X = frame[spec.input_names].copy()
    for name, role in roles.items():
        if role == "numeric":
            X[name] = pd.to_numeric(X[name], errors="coerce")
        elif role in {"categorical", "composition"}:
            X[name] = X[name].astype("string").astype(object).where(X[name].notna(), None)
    X, roles = add_related_features(campaign, frame, X, roles)
    groups = frame[spec.data.group_column].astype(str) if spec.data.group_column else None
    return TrainingData(X=X, y=frame[target], groups=groups, column_roles=roles)


def add_related_features(
    campaign: Campaign, frame: pd.DataFrame, X: pd.DataFrame, roles: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Append per-row aggregates of each declared child table (featuretools deep feature synthesis).

    The aggregates summarise each row's own child records (e.g. its first 100 cycles), never
    other rows or targets, so computing them before the CV split leaks nothing.
    """
    spec = campaign.spec
    if not spec.data.related:
        return X, roles
    from planner.features import relational_features
    from planner.io import read_table

    roles = dict(roles)
    X = X.copy()
    for table in spec.data.related:
        key = table.key or spec.data.id_column
        child, _ = read_table(campaign._resolve(table.path), delimiter=table.delimiter, what=f"related table {table.name!r}")
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


def run_automl(
    campaign: Campaign,
    *,
    targets: list[str] | None = None,
    n_trials: int | None = None,
    timeout_s: float | None = None,
    executor: str | None = None,
    n_workers: int | None = None,
    metric: str | None = None,
    on_trial: Callable[[str, Any, Any], None] | None = None,
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

        shared = RayExecutor(workers, address=address or spec.executor.address, temp_dir=campaign.directory / ".ray")
    names = list(targets or spec.target_names)
    try:
        for i, target in enumerate(names):
            # the budget covers everything: each target gets an equal share of what is left,
            # and its search stops early enough to refit inside that share
            share = None if budget is None else (budget - (time.monotonic() - started)) / (len(names) - i)
            target_start = time.monotonic()
            data = training_data(campaign, target)
            callbacks = []
            if on_trial is not None:
                callbacks.append(lambda study, trial, _t=target: on_trial(_t, study, trial))
            inputs = _search_inputs(campaign, data, n_trials=n_trials, timeout_s=timeout_s, metric=metric)
            if share is not None:
                inputs["timeout_s"] = max(share - (time.monotonic() - target_start), 1e-3)
            study = run_search(
                **inputs,
                storage_url=campaign.storage_url,
                study_name=study_name(target),
                n_workers=workers,
                executor=shared if shared is not None else kind,
                callbacks=callbacks,
                reserve_refit=share is not None,
                feature_cache=campaign.directory / ".cache" / "features",
            )
            studies[target] = study
            if any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
                # fit_final ranks trials by fidelity first (a low-fidelity score never beats a full one)
                left = None if share is None else share - (time.monotonic() - target_start)
                fitted = fit_final(study, data.X, data.y, column_roles=data.column_roles, seed=spec.seed, ensemble=ensemble, timeout_s=left, grace_s=0.0 if share is None else 0.05 * share)
                fitted.save(model_dir(campaign.directory, target))
    finally:
        if shared is not None:
            shared.shutdown()
    return studies


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


def load_study(campaign: Campaign, target: str) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=study_name(target), storage=campaign.storage_url)
    except KeyError as err:
        raise CampaignError(
            f"no AutoML trials for target {target!r} yet; run `planner run {campaign.directory}` first."
        ) from err


def predict_table(campaign: Campaign, table: Any, *, targets: list[str] | None = None) -> pd.DataFrame:
    """Predictions of each target's saved best pipeline for the rows of ``table`` (CSV path or frame)."""
    from planner.automl import load_fitted
    from planner.io import read_table

    if isinstance(table, pd.DataFrame):
        frame, label = table.copy(), "rows to predict"
    else:
        frame, _ = read_table(table, what="file to predict")
        label = str(table)
    spec = campaign.spec
    missing = [c for c in spec.input_names if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{label}: missing input column(s) {missing}; predictions need all of {spec.input_names}."
        )
    out = frame.reset_index(drop=True).copy()
    for target in targets or spec.target_names:
        directory = model_dir(campaign.directory, target)
        if not (directory / "pipeline.json").exists():
            raise CampaignError(
                f"no saved model for target {target!r} ({directory} is missing); run `planner run "
                f"{campaign.directory}` first."
            )
        fitted = load_fitted(directory)
        X = out[spec.input_names].copy()
        roles = {i.name: _ENGINE_ROLE[i.role] for i in spec.inputs}
        for name, role in roles.items():
            if role == "numeric":
                X[name] = pd.to_numeric(X[name], errors="coerce")
        X, _ = add_related_features(campaign, out, X, roles)
        predictions = fitted.predict(X).reset_index(drop=True)
        for column in predictions.columns:
            out[f"{target}_{column}"] = predictions[column].to_numpy()
    return out


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
        data = training_data(campaign, target)
        results[target] = nested_cv(
            **_search_inputs(campaign, data, n_trials=n_trials, timeout_s=timeout_s, metric=metric),
            storage_url=campaign.storage_url,
            study_name=f"nested-{target}",
            ensemble=ensemble,
        )
    return results
