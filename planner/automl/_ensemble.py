"""Ensemble selection over a finished search (Caruana et al., ICML 2004).

Picking the single best of N cross-validated pipelines on a small table selects noise
as much as skill. Ensemble selection instead averages several good pipelines: starting
from the best, it greedily adds (with replacement) the trial whose out-of-fold
predictions most improve the pooled out-of-fold objective, and keeps the best prefix.
The weights are the pick counts. Every trial's out-of-fold predictions come from the
same splits (all trials of a study share folds), so they are comparable row by row.

Selection looks at out-of-fold predictions only: it never sees a row the trials were
trained on. Its own score on those predictions is still optimistic (the weights were
chosen on them); :func:`~planner.automl.nested_cv` gives the honest estimate.

The chosen ensemble is a pipeline spec of its own (``{"kind": "ensemble", ...}``), so it
refits, saves as JSON + joblib and rebuilds like any single pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# the estimators live in _ensemble_model; re-exported here so models pickled before the split load
from planner.automl._ensemble_model import PipelineEnsembleClassifier, PipelineEnsembleRegressor, build_ensemble
from planner.automl._keys import ENSEMBLE_KIND, FIDELITY_ATTR, OOF_ATTR, PARAMS_ATTR, is_ensemble, study_info
from planner.automl._metrics import decide, get_metric, score_all

__all__ = ["EnsembleSelection", "select_ensemble", "ensemble_params", "PipelineEnsembleRegressor", "PipelineEnsembleClassifier", "is_ensemble", "build_ensemble"]

@dataclass(frozen=True)
class EnsembleSelection:
    """What ensemble selection chose.

    Attributes:
        trials: Trial numbers of the members (distinct), largest weight first.
        weights: Their weights (pick counts over picks; sum to 1).
        metric: The objective metric.
        score: Objective of the weighted out-of-fold predictions (optimistic).
        best_single_score: The same for the best single candidate, for comparison.
        n_candidates: Trials the selection chose from.
        n_rounds: Greedy rounds kept (picks, with repetition).
    """

    trials: tuple[int, ...]
    weights: tuple[float, ...]
    metric: str
    score: float
    best_single_score: float
    n_candidates: int
    n_rounds: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "trials": list(self.trials),
            "weights": [round(w, 6) for w in self.weights],
            "metric": self.metric,
            "oof_score": self.score,
            "best_single_oof_score": self.best_single_score,
            "n_candidates": self.n_candidates,
            "n_rounds": self.n_rounds,
        }


def _oof_score(task: str, metric: Any, y: np.ndarray, P: np.ndarray, classes: np.ndarray | None) -> float:
    """Objective of out-of-fold predictions ``P`` (values, or class probabilities)."""
    if task == "regression":
        return score_all(task, y, P[:, 0], None, None)[metric.name]
    proba = P / np.clip(P.sum(axis=1, keepdims=True), 1e-12, None)
    labels = decide(metric.name, classes[np.argmax(proba, axis=1)], proba, classes, y)
    return score_all(task, y, labels, proba, classes)[metric.name]


def select_ensemble(
    study: Any,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    max_candidates: int = 20,
    n_rounds: int = 25,
    fidelity: float | None = None,
) -> EnsembleSelection | None:
    """Greedy ensemble selection with replacement over a study's best trials.

    Args:
        study: A study from :func:`~planner.automl.run_search` (its trials store
            out-of-fold predictions).
        y: The target the study was searched on, in its row order.
        max_candidates: Consider the best this many complete trials (by CV mean).
        n_rounds: Greedy picks; the best-scoring prefix is kept.
        fidelity: Only trials fitted at least at this fidelity (``1.0``: on all training
            rows); ``None``: every complete trial.

    Returns:
        The :class:`EnsembleSelection`, or ``None`` when fewer than two complete trials
        have out-of-fold predictions (tables above the storage limit, models without
        class probabilities) or the rows do not match ``y``.
    """
    from optuna.trial import TrialState

    info = study_info(study)
    task, metric = info["task"], get_metric(info["metric"], info["task"])
    y_arr = np.asarray(y)
    sign = 1.0 if metric.direction == "maximize" else -1.0
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.user_attrs.get(OOF_ATTR) is not None and t.value is not None]
    done = [t for t in done if len(t.user_attrs[OOF_ATTR]) == len(y_arr)]
    if fidelity is not None:
        done = [t for t in done if float(t.user_attrs.get(FIDELITY_ATTR, 1.0)) >= fidelity]
    done.sort(key=lambda t: (-sign * t.value, t.number))
    # identical pipelines (defaults re-enqueued, a sampler repeat) add nothing: keep the first
    seen: set[str] = set()
    candidates = []
    for t in done:
        key = repr(sorted(t.user_attrs[PARAMS_ATTR].items()))
        if key not in seen:
            seen.add(key)
            candidates.append(t)
        if len(candidates) >= max_candidates:
            break
    if len(candidates) < 2:
        return None
    classes = np.unique(y_arr) if task == "classification" else None
    preds = [np.asarray(t.user_attrs[OOF_ATTR], dtype=float) for t in candidates]
    singles = [sign * _oof_score(task, metric, y_arr, P, classes) for P in preds]
    total = np.zeros_like(preds[0])
    picks: list[int] = []
    history: list[float] = []
    for _ in range(max(1, int(n_rounds))):
        k = len(picks) + 1
        gains = [sign * _oof_score(task, metric, y_arr, (total + P) / k, classes) for P in preds]
        j = int(np.argmax(gains))  # ties: the better-ranked candidate
        picks.append(j)
        total += preds[j]
        history.append(gains[j])
    best_len = int(np.argmax(history)) + 1
    counts = np.bincount(picks[:best_len], minlength=len(candidates))
    order = [j for j in np.argsort(-counts, kind="stable") if counts[j] > 0]
    return EnsembleSelection(
        trials=tuple(int(candidates[j].number) for j in order),
        weights=tuple(float(counts[j] / best_len) for j in order),
        metric=metric.name,
        score=float(sign * history[best_len - 1]),
        best_single_score=float(sign * max(singles)),
        n_candidates=len(candidates),
        n_rounds=best_len,
    )


def ensemble_params(study: Any, selection: EnsembleSelection) -> dict[str, Any]:
    """The pipeline spec of a selected ensemble: the members' specs and weights."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    return {
        "kind": ENSEMBLE_KIND,
        "members": [dict(trials[n].user_attrs[PARAMS_ATTR]) for n in selection.trials],
        "weights": list(selection.weights),
        "trials": list(selection.trials),
    }
