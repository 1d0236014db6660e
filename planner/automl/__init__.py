"""The AutoML search engine: pipeline spaces, cross-validated trials, the Optuna search,
leaderboards, refitting and nested CV.

A plain API over pandas tables, independent of the campaign object::

    space = load_search_space("fast")
    study = run_search(X, y, task="regression", search_space=space,
                       storage_url="sqlite:///optuna.db", study_name="lce", n_trials=20)
    leaderboard(study)
    fitted = refit(study, X, y); fitted.save("model/"); fitted.predict(X_new)

Importing this package is cheap: Optuna, scikit-learn's estimators, LightGBM and
XGBoost load only when a function that needs them runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "SearchSpace",
    "load_search_space",
    "bundled_search_spaces",
    "CVSpec",
    "make_splits",
    "TrialResult",
    "evaluate_pipeline",
    "build_pipeline",
    "describe_pipeline",
    "run_search",
    "study_info",
    "leaderboard",
    "baselines",
    "fit_final",
    "FittedPipeline",
    "refit",
    "predict",
    "load_fitted",
    "nested_cv",
    "NestedCVResult",
    "OuterFold",
    "make_executor",
    "RayExecutor",
    "METRICS",
    "prepare_data",
    "RegressionCalibrator",
    "ClassificationCalibrator",
]

_WHERE = {
    "SearchSpace": "_space",
    "load_search_space": "_space",
    "bundled_search_spaces": "_space",
    "CVSpec": "_cv",
    "make_splits": "_cv",
    "TrialResult": "_evaluate",
    "evaluate_pipeline": "_evaluate",
    "build_pipeline": "_build",
    "describe_pipeline": "_build",
    "run_search": "_search",
    "study_info": "_keys",
    "leaderboard": "_leaderboard",
    "baselines": "_leaderboard",
    "fit_final": "_final",
    "FittedPipeline": "_refit",
    "refit": "_refit",
    "predict": "_refit",
    "load_fitted": "_refit",
    "nested_cv": "_nested",
    "NestedCVResult": "_nested",
    "OuterFold": "_nested",
    "make_executor": "_executors",
    "RayExecutor": "_executors",
    "METRICS": "_metrics",
    "prepare_data": "_data",
    "RegressionCalibrator": "_conformal",
    "ClassificationCalibrator": "_conformal",
}

if TYPE_CHECKING:
    from planner.automl._build import build_pipeline, describe_pipeline
    from planner.automl._conformal import ClassificationCalibrator, RegressionCalibrator
    from planner.automl._cv import CVSpec, make_splits
    from planner.automl._data import prepare_data
    from planner.automl._evaluate import TrialResult, evaluate_pipeline
    from planner.automl._executors import RayExecutor, make_executor
    from planner.automl._final import fit_final
    from planner.automl._keys import study_info
    from planner.automl._leaderboard import baselines, leaderboard
    from planner.automl._metrics import METRICS
    from planner.automl._nested import NestedCVResult, OuterFold, nested_cv
    from planner.automl._refit import FittedPipeline, load_fitted, predict, refit
    from planner.automl._search import run_search
    from planner.automl._space import SearchSpace, bundled_search_spaces, load_search_space


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"planner.automl.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'planner.automl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
