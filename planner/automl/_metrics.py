"""Scoring metrics: regression MAE, RMSE, R²; classification accuracy, balanced accuracy,
precision, recall, F1, ROC-AUC and log loss, each with its optimization direction.

Balanced accuracy (the mean of the per-class recalls) is the metric of imbalanced tasks
such as Matbench's glass-forming ability. Predicting the most probable class maximizes
plain accuracy, not balanced accuracy: for balanced accuracy the Bayes-optimal decision
divides each class probability by that class's share of the training rows and takes
the largest (:func:`balanced_decision`). When it is the objective, the trials are scored
with that rule (priors from each training fold), ensemble selection uses it, and the
saved model predicts with it (``spec["decision"]``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.exceptions import SpecError

__all__ = ["Metric", "METRICS", "get_metric", "default_metric", "score_all", "balanced_decision", "decision_spec", "apply_decision", "decide"]


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
        Metric("balanced_accuracy", "classification", "maximize"),
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
    with warnings.catch_warnings():  # a class absent from a small test fold: its recall is left out
        warnings.simplefilter("ignore")
        out["balanced_accuracy"] = float(skm.balanced_accuracy_score(y_true, y_pred))
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


def balanced_decision(proba: np.ndarray, classes: Any, prior: np.ndarray) -> np.ndarray:
    """Labels that maximize expected balanced accuracy: ``argmax_c p(c|x) / prior_c``.

    Args:
        proba: Class probabilities, `n x k`, columns in the order of ``classes``.
        classes: The `k` class labels.
        prior: Each class's share of the training rows (`k`); a class never seen in
            training (share 0) is never predicted.
    """
    prior = np.asarray(prior, dtype=float)
    weight = np.where(prior > 0, 1.0 / np.where(prior > 0, prior, 1.0), 0.0)
    return np.asarray(classes)[np.argmax(np.asarray(proba, dtype=float) * weight, axis=1)]


def class_prior(y: np.ndarray, classes: Any) -> np.ndarray:
    """Each class's share of ``y``."""
    y = np.asarray(y)
    return np.array([float(np.mean(y == c)) for c in np.asarray(classes)])


def decision_spec(metric: str | None, y: np.ndarray, classes: Any) -> dict[str, Any] | None:
    """How a saved classifier turns probabilities into labels for ``metric``: ``None`` (the
    most probable class) except for balanced accuracy, whose rule stores the training priors."""
    if metric != "balanced_accuracy":
        return None
    labels = [c.item() if hasattr(c, "item") else c for c in np.asarray(classes)]
    why = "the objective is balanced accuracy: each class probability is divided by the class's share of the training rows (the Bayes-optimal decision for balanced accuracy)"
    return {"rule": "balanced", "classes": labels, "prior": [round(float(p), 12) for p in class_prior(y, classes)], "why": why}


def apply_decision(decision: dict[str, Any] | None, proba: np.ndarray, classes: Any) -> np.ndarray | None:
    """The labels a stored rule (:func:`decision_spec`) gives ``proba``; ``None`` without a rule."""
    if not decision or decision.get("rule") != "balanced":
        return None
    return balanced_decision(proba, classes, np.asarray(decision["prior"], dtype=float))


def decide(metric: str | None, y_pred: np.ndarray, proba: np.ndarray | None, classes: Any, y_train: np.ndarray) -> np.ndarray:
    """The labels a model fitted on ``y_train`` predicts for ``metric`` (see :func:`decision_spec`)."""
    if metric != "balanced_accuracy" or proba is None or classes is None:
        return y_pred
    return balanced_decision(proba, classes, class_prior(y_train, classes))
