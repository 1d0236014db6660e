"""Scoring metrics: regression MAE, RMSE, R²; classification accuracy, precision,
recall, F1, ROC-AUC and log loss, each with its optimization direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.exceptions import SpecError

__all__ = ["Metric", "METRICS", "get_metric", "default_metric", "score_all"]


@dataclass(frozen=True)
class Metric:
    """A metric and what it needs from a model.

    Attributes:
        name: Its name in specs (``"mae"``...).
        task: The task it applies to.
        direction: ``"minimize"`` or ``"maximize"``.
        needs: ``"predict"`` (labels/values) or ``"proba"`` (class probabilities).
    """

    name: str
    task: str
    direction: str
    needs: str = "predict"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("mae", "regression", "minimize"),
        Metric("rmse", "regression", "minimize"),
        Metric("r2", "regression", "maximize"),
        Metric("accuracy", "classification", "maximize"),
        Metric("precision", "classification", "maximize"),
        Metric("recall", "classification", "maximize"),
        Metric("f1", "classification", "maximize"),
        Metric("roc_auc", "classification", "maximize", needs="proba"),
        Metric("log_loss", "classification", "minimize", needs="proba"),
    )
}


def default_metric(task: str) -> str:
    """MAE for regression; ROC-AUC (threshold-free) for classification."""
    return "mae" if task == "regression" else "roc_auc"


def get_metric(name: str | None, task: str) -> Metric:
    """Look up a metric and check it fits the task.

    Raises:
        SpecError: Unknown metric, or one of the other task.
    """
    name = name or default_metric(task)
    if name not in METRICS:
        raise SpecError(f"unknown metric {name!r}; choose one of {sorted(METRICS)}")
    metric = METRICS[name]
    if metric.task != task:
        options = sorted(m for m, v in METRICS.items() if v.task == task)
        raise SpecError(f"metric {name!r} is for {metric.task}, but the task is {task}; choose one of {options}")
    return metric


def score_all(task: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, classes: Any = None) -> dict[str, float]:
    """Every metric of ``task`` on one fold (NaN where a metric is undefined on it)."""
    from sklearn import metrics as skm

    out: dict[str, float] = {}
    if task == "regression":
        out["mae"] = float(skm.mean_absolute_error(y_true, y_pred))
        out["rmse"] = float(np.sqrt(skm.mean_squared_error(y_true, y_pred)))
        out["r2"] = float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan")
        return out
    labels = np.asarray(classes) if classes is not None else np.unique(y_true)
    binary = len(labels) == 2
    average = "binary" if binary else "macro"
    kw: dict[str, Any] = {"pos_label": labels[-1]} if binary else {}
    out["accuracy"] = float(skm.accuracy_score(y_true, y_pred))
    out["precision"] = float(skm.precision_score(y_true, y_pred, average=average, zero_division=0, **kw))
    out["recall"] = float(skm.recall_score(y_true, y_pred, average=average, zero_division=0, **kw))
    out["f1"] = float(skm.f1_score(y_true, y_pred, average=average, zero_division=0, **kw))
    out["roc_auc"] = out["log_loss"] = float("nan")
    if proba is not None:
        proba = np.clip(np.asarray(proba, dtype=float), 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        out["log_loss"] = float(skm.log_loss(y_true, proba, labels=labels))
        if len(np.unique(y_true)) > 1:
            if binary:
                out["roc_auc"] = float(skm.roc_auc_score(y_true == labels[-1], proba[:, 1]))
            elif len(np.unique(y_true)) == len(labels):
                out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
    return out
