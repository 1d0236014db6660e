"""Refit a chosen pipeline on all data, save it (joblib + JSON spec), predict with uncertainty."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from planner.automl._build import build_pipeline, describe_pipeline
from planner.automl._data import prepare_data
from planner.automl._keys import FAILURE_REASON_ATTR, FOLD_SCORES_ATTR, PARAMS_ATTR, STD_ATTR
from planner.automl._metrics import apply_decision, decision_spec
from planner.exceptions import DataValidationError, SpecError
from planner.layout import DOMAIN_FILE, MODEL_FILE, MODEL_SPEC_FILE, OOF_FILE

if TYPE_CHECKING:
    import optuna

__all__ = ["FittedPipeline", "refit", "calibrate_fitted", "attach_domain", "predict", "load_fitted", "SPEC_FILE", "MODEL_FILE"]

SPEC_FILE = MODEL_SPEC_FILE
SPEC_TYPE = "planner.automl.fitted_pipeline"
SPEC_VERSION = 2
#: Versions :meth:`FittedPipeline.load` reads; version 1 models have no out-of-fold predictions
#: or applicability domain (predict still works, uncalibrated, and says how to refresh them).
READABLE_VERSIONS = (1, 2)


def _versions() -> dict[str, str]:
    import sklearn

    from planner._version import __version__

    return {"planner": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__}


def _final_model(pipeline: Any) -> Any:
    """The pipeline's model, unwrapped from a training-row outlier filter (which does not change predictions)."""
    model = pipeline.steps[-1][1]
    while type(model).__name__.startswith("OutlierFiltered") and hasattr(model, "estimator_"):
        model = model.estimator_
    return model


def _std_models() -> tuple[type, ...]:
    """Regressors whose predictions come with a spread (see :func:`_regression_std`)."""
    from sklearn import ensemble
    from sklearn.gaussian_process import GaussianProcessRegressor

    from planner.automl._scalable import SubsetGPRegressor

    return (GaussianProcessRegressor, SubsetGPRegressor, ensemble.RandomForestRegressor, ensemble.ExtraTreesRegressor, ensemble.BaggingRegressor, ensemble.VotingRegressor)


def _regression_std(model: Any, Z: np.ndarray) -> np.ndarray | None:
    """Predictive spread of the final estimator on transformed inputs ``Z``, where it has one."""
    from sklearn import ensemble
    from sklearn.gaussian_process import GaussianProcessRegressor

    from planner.automl._scalable import SubsetGPRegressor

    if not isinstance(model, _std_models()):
        return None
    if isinstance(model, GaussianProcessRegressor | SubsetGPRegressor):
        return model.predict(Z, return_std=True)[1]
    if isinstance(model, ensemble.BaggingRegressor):
        return np.std([est.predict(Z[:, feats]) for est, feats in zip(model.estimators_, model.estimators_features_, strict=True)], axis=0)
    if isinstance(model, ensemble.VotingRegressor):
        # spread of the members' predictions: disagreement, not a calibrated interval
        return np.std(model.transform(Z), axis=1)
    return np.std([tree.predict(Z) for tree in model.estimators_], axis=0)  # forests


@dataclass(frozen=True)
class FittedPipeline:
    """A pipeline refitted on all data, with the JSON spec that rebuilds it.

    Attributes:
        estimator: The fitted scikit-learn ``Pipeline`` (a plain estimator; ``predict``
            takes a DataFrame with ``spec["feature_columns"]``).
        spec: JSON-serializable description: task, pipeline spec (``params``), column
            roles, seed, the trial and its CV score, library versions.
    """

    estimator: Any
    spec: dict[str, Any]
    oof: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    domain: Any = field(default=None, compare=False, repr=False)

    @property
    def task(self) -> str:
        return self.spec["task"]

    @property
    def feature_columns(self) -> list[str]:
        return list(self.spec["feature_columns"])

    @property
    def has_uncertainty(self) -> bool:
        """Whether :meth:`predict` fills ``std`` (regression) or class probabilities."""
        if self.task == "classification":
            return hasattr(self.estimator, "predict_proba")
        if hasattr(self.estimator, "predict_std"):
            return True
        return isinstance(_final_model(self.estimator), _std_models())

    def rebuild(self) -> Any:
        """A fresh, unfitted estimator from the spec (what the JSON file is for)."""
        # the JSON spec stores roles with sorted keys; column order matters to the fit
        # (a forest's feature subsampling), so restore the training order
        stored = self.spec["column_roles"]
        roles = {c: stored[c] for c in self.feature_columns if c in stored} | {c: r for c, r in stored.items() if c not in self.feature_columns}
        return build_pipeline(self.spec["params"], task=self.task, column_roles=roles, seed=self.spec["seed"])

    def _check_columns(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_columns if c not in X.columns]
        if missing:
            raise DataValidationError(f"X lacks column(s) {missing} that the pipeline was trained on; give all of {self.feature_columns}")
        out = X[self.feature_columns].copy()
        for col, role in self.spec["column_roles"].items():
            if role == "numeric":
                out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        return out

    def predict(
        self,
        X: pd.DataFrame,
        *,
        interval: float | Sequence[float] | None = None,
        groups: Sequence[Any] | np.ndarray | None = None,
        bounds: tuple[float | None, float | None] | None = None,
    ) -> pd.DataFrame:
        """Predict, with uncertainty where the model has it.

        Args:
            X: Rows to predict, `m x d`, with the training feature columns.
            interval: Level(s) of conformal intervals (regression) or prediction sets
                (classification), e.g. ``0.9``; ``None`` gives the bare columns below. With a
                level, the columns of :func:`~planner.automl._calibrate.calibrated_columns`
                are added: ``lower``/``upper`` or ``set``, the applicability-domain flag
                ``in_domain`` with ``domain_reason``, ``out_of_range`` and a ``note``.
            groups: Group label per row, for Mondrian (per-group) calibration.
            bounds: Declared ``(lower, upper)`` target bounds (either may be ``None``):
                predictions and intervals are clipped to them, ``clipped`` says which.

        Raises:
            SpecError: An interval level outside (0, 1).

        Returns:
            Regression: ``prediction`` and ``std`` (NaN when the model has no spread:
            GPs give their posterior std, forests and bagging the spread over members,
            voting and selected ensembles the members' disagreement). Classification: ``prediction`` and one
            ``proba_<class>`` column per class. Index follows ``X``.
        """
        if interval is not None or bounds is not None:
            from planner.automl._calibrate import calibrated_columns
            from planner.automl._conformal import check_levels

            levels = check_levels(interval)
            base = self._predict_raw(X)
            bounds = bounds if bounds is not None else self.bounds
            return calibrated_columns(self, self._check_columns(X), base, levels=levels, groups=groups, bounds=bounds)
        out = self._predict_raw(X)
        if self.bounds is not None and self.task == "regression":
            lo, hi = self.bounds
            out["prediction"] = out["prediction"].clip(lower=lo, upper=hi)
        return out

    @property
    def bounds(self) -> tuple[float | None, float | None] | None:
        """Declared ``(lower, upper)`` of the target, stored at refit; predictions never leave them."""
        stored = self.spec.get("target_bounds")
        return (stored[0], stored[1]) if stored else None

    def _predict_raw(self, X: pd.DataFrame) -> pd.DataFrame:
        Xc = self._check_columns(X)
        pred = self.estimator.predict(Xc)
        out = pd.DataFrame({"prediction": pred}, index=X.index)
        if self.task == "classification":
            if hasattr(self.estimator, "predict_proba"):
                proba = self.estimator.predict_proba(Xc)
                for j, cls in enumerate(self.estimator.classes_):
                    out[f"proba_{cls}"] = proba[:, j]
                decided = apply_decision(self.spec.get("decision"), proba, self.estimator.classes_)
                if decided is not None:  # the objective's decision (balanced accuracy)
                    out["prediction"] = decided
            return out
        if hasattr(self.estimator, "predict_std"):  # an ensemble of pipelines: members' spread
            out["std"] = self.estimator.predict_std(Xc)
            return out
        Z = self.estimator[:-1].transform(Xc)
        std = _regression_std(_final_model(self.estimator), np.asarray(Z))
        out["std"] = np.nan if std is None else std
        return out

    def save(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``pipeline.joblib`` (the scikit-learn estimator) and ``pipeline.json`` atomically,
        with ``oof.csv`` (out-of-fold predictions, for calibration) and ``domain.json``
        (applicability domain) when the model has them.

        Returns:
            ``{"model": path, "spec": path}`` plus ``"oof"``/``"domain"`` when written.
        """
        import joblib

        from planner.io import atomic_replace, atomic_write_text

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model_path, spec_path = directory / MODEL_FILE, directory / SPEC_FILE
        with atomic_replace(model_path, binary=True) as handle:
            joblib.dump(self.estimator, handle)

        paths = {"model": model_path, "spec": spec_path}
        for path in (directory / OOF_FILE, directory / DOMAIN_FILE):
            if path.exists():  # never leave a previous model's calibration beside this one
                path.unlink()
        if self.oof is not None:
            atomic_write_text(directory / OOF_FILE, self.oof.to_csv(index=False))
            paths["oof"] = directory / OOF_FILE
        if self.domain is not None:
            atomic_write_text(directory / DOMAIN_FILE, json.dumps(self.domain.to_dict()) + "\n")
            paths["domain"] = directory / DOMAIN_FILE
        atomic_write_text(spec_path, json.dumps(self.spec, indent=2, sort_keys=True, default=str) + "\n")
        return paths

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> FittedPipeline:
        """Read what :meth:`save` wrote.

        Raises:
            SpecError: The files are missing or the spec is of another type or version.
        """
        import joblib

        directory = Path(directory)
        spec_path, model_path = directory / SPEC_FILE, directory / MODEL_FILE
        if not spec_path.is_file() or not model_path.is_file():
            raise SpecError(f"{directory} has no saved pipeline ({SPEC_FILE} + {MODEL_FILE}); refit one first")
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        if spec.get("type") != SPEC_TYPE or spec.get("version") not in READABLE_VERSIONS:
            raise SpecError(f"{spec_path}: type/version {spec.get('type')!r}/{spec.get('version')!r} is not {SPEC_TYPE!r}/{SPEC_VERSION}")

        from planner.automl._domain import ApplicabilityDomain

        oof = domain = None
        if spec.get("version") >= 2:
            if (directory / OOF_FILE).is_file() and spec.get("calibration", {}).get("source"):
                oof = pd.read_csv(directory / OOF_FILE, dtype={"group": str})
            if (directory / DOMAIN_FILE).is_file():
                domain = ApplicabilityDomain.from_dict(json.loads((directory / DOMAIN_FILE).read_text(encoding="utf-8")))
        return cls(estimator=joblib.load(model_path), spec=spec, oof=oof, domain=domain)


def load_fitted(directory: str | os.PathLike[str]) -> FittedPipeline:
    """Load a saved pipeline (see :meth:`FittedPipeline.load`)."""
    return FittedPipeline.load(directory)


def _pick_trial(study: optuna.Study, trial: int | Any | None) -> Any:
    from optuna.trial import FrozenTrial, TrialState

    if trial is None:
        try:
            chosen = study.best_trial
        except ValueError as err:
            raise SpecError(f"study {study.study_name!r} has no completed trial to refit; run the search first") from err
    elif isinstance(trial, FrozenTrial):
        chosen = trial
    else:
        numbers = {t.number: t for t in study.get_trials(deepcopy=False)}
        if trial not in numbers:
            raise SpecError(f"study {study.study_name!r} has no trial {trial!r}; trials are 0..{max(numbers, default=-1)}")
        chosen = numbers[trial]
    if chosen.state != TrialState.COMPLETE:
        reason = chosen.user_attrs.get(FAILURE_REASON_ATTR) or chosen.state.name.lower()
        raise SpecError(f"trial {chosen.number} did not complete ({reason}); choose a completed trial from the leaderboard")
    return chosen


def refit(
    study_or_params: optuna.Study | Mapping[str, Any],
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    trial: int | Any | None = None,
    task: str | None = None,
    column_roles: Mapping[str, str] | None = None,
    seed: int | None = None,
    ensemble: bool = False,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    calibrate: bool = True,
    bounds: tuple[float | None, float | None] | None = None,
) -> FittedPipeline:
    """Fit a pipeline on all rows.

    Args:
        study_or_params: A study from :func:`run_search` (task, roles and seed are read
            from it) or a pipeline spec dict (then ``task`` is required).
        X: Features, `n x d`.
        y: Target, `n`.
        trial: Trial number (or ``FrozenTrial``) to refit; the best trial when ``None``.
        task: Needed with a params dict; checked against the study otherwise.
        column_roles: Override the roles stored on the study.
        seed: Override the study's seed.
        ensemble: With a study and no ``trial``: refit the ensemble that ensemble
            selection picks from the best trials' out-of-fold predictions (see
            :func:`~planner.automl._ensemble.select_ensemble`) instead of the single best
            trial. Falls back to the best trial when selection keeps one member or the
            trials stored no out-of-fold predictions; ``spec["ensemble"]`` says which.

    Returns:
        The :class:`FittedPipeline`; call ``.save(dir)`` to write joblib + JSON.

    Raises:
        SpecError: No completed trial, an unknown or failed trial, a missing task.
        DataValidationError: Unusable data.
    """
    import optuna

    spec: dict[str, Any] = {"type": SPEC_TYPE, "version": SPEC_VERSION}
    if isinstance(study_or_params, optuna.Study):
        from planner.automl._keys import study_info

        study = study_or_params
        info = study_info(study)
        chosen = _pick_trial(study, trial)
        if task is not None and task != info["task"]:
            raise SpecError(f"study {study.study_name!r} is a {info['task']} study, not {task}")
        task = info["task"]
        params = dict(chosen.user_attrs[PARAMS_ATTR])
        column_roles = column_roles if column_roles is not None else info["column_roles"]
        seed = info["seed"] if seed is None else seed
        attrs = chosen.user_attrs
        spec.update(
            study=study.study_name,
            trial=chosen.number,
            search_space=info.get("search_space"),
            cv={"metric": info["metric"], "mean": chosen.value, "std": attrs.get(STD_ATTR), "fold_scores": attrs.get(FOLD_SCORES_ATTR), "cv": info.get("cv")},
        )
    else:
        if task is None:
            raise SpecError("refit with a params dict needs task='regression' or 'classification'")
        params = dict(study_or_params)
        seed = 0 if seed is None else seed
    data = prepare_data(X, y, task=task, column_roles=column_roles, groups=groups)
    members: list[int] = [int(spec["trial"])] if "trial" in spec else []
    weights: list[float] = [1.0] if members else []
    if ensemble and isinstance(study_or_params, optuna.Study) and trial is None:
        from planner.automl._ensemble import ensemble_params, select_ensemble

        selection = select_ensemble(study_or_params, data.y)
        if selection is not None and len(selection.trials) > 1:
            params = ensemble_params(study_or_params, selection)
            spec.update(trial=selection.trials[0], ensemble=selection.to_dict())
            members, weights = list(selection.trials), list(selection.weights)
        else:
            spec["ensemble"] = None
    estimator = build_pipeline(params, task=task, column_roles=data.column_roles, seed=int(seed))
    with threadpool_limits(limits=1):  # as in the trials: OpenMP pools crawl on shared cores
        estimator.fit(data.X, data.y)
    description = describe_pipeline(params)
    spec.update(
        task=task,
        params=params,
        column_roles=data.column_roles,
        feature_columns=list(data.X.columns),
        seed=int(seed),
        pipeline=description.summary,
        model_family=description.model_family,
        fusion_kind=description.fusion_kind,
        n_train_rows=int(len(data.y)),
        notes=list(data.notes),
        created=time.strftime("%Y-%m-%dT%H:%M:%S"),
        versions=_versions(),
    )
    if task == "classification":
        spec["classes"] = [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
        spec.update(decision_entry((spec.get("cv") or {}).get("metric"), data.y, estimator))
    else:
        spec["target_range"] = [float(np.min(data.y)), float(np.max(data.y))]
        if bounds is not None and (bounds[0] is not None or bounds[1] is not None):
            spec["target_bounds"] = [None if b is None else float(b) for b in bounds]
    fitted = FittedPipeline(estimator=estimator, spec=spec)
    if not calibrate:
        spec["calibration"] = {"source": None, "note": "refit with calibrate=False"}
        return fitted
    return _calibrated(fitted, data, study=study_or_params if isinstance(study_or_params, optuna.Study) else None, members=members, weights=weights)


def _calibrated(fitted: FittedPipeline, data: Any, *, study: Any, members: list[int], weights: list[float]) -> FittedPipeline:
    """``fitted`` with its out-of-fold predictions (``spec["calibration"]``) and applicability domain."""
    from planner.automl._calibrate import final_oof
    from planner.automl._domain import ApplicabilityDomain

    spec, task, seed = dict(fitted.spec), fitted.spec["task"], int(fitted.spec["seed"])
    oof, spec["calibration"] = final_oof(
        fitted.estimator,
        spec["params"],
        data,
        task=task,
        seed=seed,
        study=study,
        member_trials=members,
        weights=weights,
        has_std=task == "regression" and fitted.has_uncertainty,
        as_fitted=FittedPipeline,
    )
    decision = spec.get("decision")
    if oof is not None and decision:  # the stored out-of-fold labels (report, prediction sets) follow the model's rule
        cols = [f"proba_{c}" for c in decision["classes"]]
        if set(cols) <= set(oof.columns):
            oof = oof.copy()
            oof["prediction"] = apply_decision(decision, oof[cols].to_numpy(float), np.asarray(decision["classes"], dtype=object))
    domain = fitted.domain if fitted.domain is not None else ApplicabilityDomain.fit(data.X, data.column_roles, seed=seed)
    spec["domain"] = _domain_entry(domain)
    return FittedPipeline(estimator=fitted.estimator, spec=spec, oof=oof, domain=domain)


def decision_entry(metric: str | None, y: Any, estimator: Any) -> dict[str, Any]:
    """``{"decision": ...}`` for a classifier's spec when ``metric`` turns probabilities into
    labels its own way (:func:`~planner.automl._metrics.decision_spec`); else ``{}``."""
    if not hasattr(estimator, "predict_proba") or not hasattr(estimator, "classes_"):
        return {}
    decision = decision_spec(metric, np.asarray(y), estimator.classes_)
    return {} if decision is None else {"decision": decision}


def _domain_entry(domain: Any) -> dict[str, Any]:
    return {"file": DOMAIN_FILE, "threshold": domain.threshold if np.isfinite(domain.threshold) else None, "nn_quantile": domain.nn_quantile}


def attach_domain(
    fitted: FittedPipeline,
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
) -> FittedPipeline:
    """``fitted`` with the applicability domain of the rows it was refitted on (ranges, seen
    categories and elements, a nearest-neighbour distance on at most 2,000 reference rows).

    Cheap, so it is fitted before the out-of-fold predictions: a model whose calibration did not
    fit the budget still flags the predictions outside its domain.
    """
    from planner.automl._domain import ApplicabilityDomain

    spec = dict(fitted.spec)
    data = prepare_data(X, y, task=spec["task"], column_roles=spec["column_roles"], groups=groups)
    domain = ApplicabilityDomain.fit(data.X, data.column_roles, seed=int(spec["seed"]))
    spec["domain"] = _domain_entry(domain)
    return FittedPipeline(estimator=fitted.estimator, spec=spec, oof=fitted.oof, domain=domain)


def calibrate_fitted(
    fitted: FittedPipeline,
    X: pd.DataFrame,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    groups: Sequence[Any] | np.ndarray | pd.Series | None = None,
    study: Any = None,
    members: Sequence[int] = (),
    weights: Sequence[float] = (),
) -> FittedPipeline:
    """Add out-of-fold predictions and the applicability domain to a pipeline refitted with
    ``calibrate=False`` (what :func:`refit` does by default), e.g. after a refit under a deadline.

    Args:
        fitted: The refitted pipeline (its spec names task, params, roles and seed).
        X, y, groups: The rows it was refitted on.
        study: The search's study (its trials' stored out-of-fold predictions and folds).
        members: Trial numbers of the model (one for a single pipeline), with ``weights``.
    """
    spec = fitted.spec
    data = prepare_data(X, y, task=spec["task"], column_roles=spec["column_roles"], groups=groups)
    return _calibrated(fitted, data, study=study, members=list(members), weights=list(weights))


def predict(fitted: FittedPipeline | str | os.PathLike[str], X: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """Predict with a fitted pipeline or a saved one's directory (see :meth:`FittedPipeline.predict`
    for ``interval``, ``groups`` and ``bounds``)."""
    if not isinstance(fitted, FittedPipeline):
        fitted = FittedPipeline.load(fitted)
    return fitted.predict(X, **kwargs)
