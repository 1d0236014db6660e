"""The baselines a search scores beside its trials, on the same folds: the mean (or majority
class) predictor and a default random forest, so a reader sees what the search bought."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from planner.automl._evaluate import evaluate_pipeline
from planner.automl._keys import BASELINES_ATTR, COMPLETE, FIDELITY_ATTR, TRAIN_ROWS_ATTR

__all__ = ["baseline_rf", "run_baselines", "BASELINE_SHARE_OF_TIME_LEFT"]


def baseline_rf(task: str) -> dict[str, Any]:
    """The default random forest shown beside the winners: scikit-learn's defaults (100 trees,
    all features per split for regression, the square root of them for classification)."""
    return {
        "imputer": "median",
        "imputer.median.add_indicator": False,
        "fusion": "single",
        "model": "rf",
        "model.rf.n_estimators": 100,
        "model.rf.max_features": 1.0 if task == "regression" else "sqrt",
        "model.rf.min_samples_leaf": 1,
    }
#: Share of the time left the default-forest baseline may use (it is killed past it, with the reason).
BASELINE_SHARE_OF_TIME_LEFT = 0.10


def _dummy_scores(y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]], task: str, metric: str) -> list[float]:
    """The objective per fold of predicting the training mean (regression) or the class prior."""
    from planner.automl._metrics import score_all

    out = []
    classes = np.unique(y) if task == "classification" else None
    for train, test in splits:
        if classes is None:
            pred = np.full(len(test), float(np.mean(y[train])))
            out.append(score_all(task, y[test], pred, None, None)[metric])
        else:
            prior = np.array([np.mean(y[train] == c) for c in classes])
            proba = np.tile(prior, (len(test), 1))
            out.append(score_all(task, y[test], np.full(len(test), classes[int(np.argmax(prior))], dtype=y.dtype), proba, classes)[metric])
    return out


def _record(name: str, label: str, scores: list[float] | tuple[float, ...], fit_time_s: float, status: str, reason: str | None) -> dict[str, Any]:
    vals = [float(s) for s in scores if s is not None and math.isfinite(s)]
    return {
        "name": name,
        "pipeline": label,
        "mean": float(np.mean(vals)) if vals else None,
        "std": float(np.std(vals)) if len(vals) > 1 else None,
        "n_folds": len(vals),
        "fit_time_s": round(float(fit_time_s), 4),
        "status": status,
        "reason": reason,
    }


def run_baselines(driver: Any) -> None:
    """Score the mean/majority predictor and a default random forest on the study's folds, once (``driver``: the
    :class:`~planner.automl._driver.SearchDriver`, which imports this module)."""
    study = driver.study
    if study.user_attrs.get(BASELINES_ATTR):
        return
    task, metric = driver.eval_kwargs["task"], driver.objective.name
    started = time.perf_counter()
    dummy = _record("mean" if task == "regression" else "majority", "predict the training mean" if task == "regression" else "predict the majority class (class prior)", _dummy_scores(driver.y, driver.splits, task, metric), time.perf_counter() - started, COMPLETE, None)
    left = driver.time_left()
    # a baseline is worth less than a trial: at most a tenth of the time left
    limit = None if left is None else BASELINE_SHARE_OF_TIME_LEFT * left
    fid = driver._fidelity_kwargs(None)
    if driver.low_rows is None:
        # a small table's low fidelity is only the first repeat of the CV: the forest is cheap there,
        # and scored on every repeat it is compared with the final model's candidates like with like
        fid = {"max_train_rows": None, "max_folds": None}
    kwargs = {k: v for k, v in driver.eval_kwargs.items() if k != "metric"}
    if limit is not None and limit < driver.min_trial_s:
        forest = _record("random_forest", "default random forest (100 trees)", (), 0.0, "skipped", f"not run: {limit:.1f} s of the budget were left for it")
        study.set_user_attr(BASELINES_ATTR, [dummy, forest])
        return
    if driver.worker is not None:
        result = driver.worker.evaluate(baseline_rf(task), limit_s=limit, rule=None, metric=metric, n_folds=driver._n_folds(fid), fidelity=driver._fidelity(fid), max_trial_s=limit, **fid, **kwargs)
    else:
        result = evaluate_pipeline(baseline_rf(task), driver.X, driver.y, time_limit_s=limit, max_trial_s=limit, **fid, **driver.eval_kwargs)
    label = "default random forest (100 trees)"
    if fid["max_train_rows"] is not None:
        label += f", low fidelity: {fid['max_train_rows']} training rows on {driver._n_folds(fid)} of {len(driver.splits)} folds"
    forest = _record("random_forest", label, result.fold_scores, result.fit_time_s, result.status, result.failure_reason)
    forest[FIDELITY_ATTR] = result.fidelity
    forest[TRAIN_ROWS_ATTR] = int(fid["max_train_rows"] or driver.train_rows)
    study.set_user_attr(BASELINES_ATTR, [dummy, forest])
