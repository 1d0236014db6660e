"""Names shared by the engine's stages: trial states, study/trial attribute keys, spec kinds.

A leaf module (no planner imports besides the exceptions), so every stage can read the
records another stage wrote without importing that stage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from planner.exceptions import SpecError

__all__ = [
    "COMPLETE",
    "PRUNED",
    "FAILED",
    "STUDY_ATTR",
    "ENSEMBLE_KIND",
    "FIDELITY_ATTR",
    "BASELINES_ATTR",
    "PARAMS_ATTR",
    "STATUS_ATTR",
    "METRIC_ATTR",
    "FOLD_SCORES_ATTR",
    "FOLD_METRICS_ATTR",
    "MEAN_ATTR",
    "STD_ATTR",
    "FIT_TIME_ATTR",
    "N_FOLDS_ATTR",
    "FAILURE_REASON_ATTR",
    "WARNINGS_ATTR",
    "SELECTED_FEATURES_ATTR",
    "OOF_ATTR",
    "PIPELINE_ATTR",
    "MODEL_FAMILY_ATTR",
    "FUSION_KIND_ATTR",
    "SOURCE_ATTR",
    "TRAIN_ROWS_ATTR",
    "PROMOTED_FROM_ATTR",
    "RESCORED_FROM_ATTR",
    "SOURCE_SAMPLER",
    "SOURCE_DEFAULT",
    "SOURCE_PROMOTED",
    "SOURCE_RESCORED",
    "is_ensemble",
    "study_info",
    "rank_by_fidelity",
]

#: Statuses of a trial result.
COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"
#: Study user attribute holding what the engine needs to refit and to resume safely.
STUDY_ATTR = "planner"
#: ``params["kind"]`` of a spec that averages whole pipelines (see :mod:`planner.automl._ensemble`).
ENSEMBLE_KIND = "ensemble"
#: Study user attribute: the baselines (dummy, random forest) scored on the study's folds.
BASELINES_ATTR = "baselines"

# Trial user attributes: the schema of what a trial records (see ``TrialResult.user_attrs``).
#: Share of each training fold's rows the trial was fitted on (1.0 = all).
FIDELITY_ATTR = "fidelity"
#: The pipeline spec (rebuilds the pipeline).
PARAMS_ATTR = "params"
#: ``complete``, ``pruned`` or ``failed`` as the engine saw it.
STATUS_ATTR = "status"
#: The objective metric's name.
METRIC_ATTR = "metric"
#: Score per CV fold (``None`` for a fold that did not run), and every metric per fold.
FOLD_SCORES_ATTR = "fold_scores"
FOLD_METRICS_ATTR = "fold_metrics"
#: Mean and standard deviation of the fold scores.
MEAN_ATTR = "mean"
STD_ATTR = "std"
#: Seconds spent fitting and scoring, and the folds that ran.
FIT_TIME_ATTR = "fit_time_s"
N_FOLDS_ATTR = "n_folds"
#: Why a trial failed or was pruned (one line), and warnings raised while it ran.
FAILURE_REASON_ATTR = "failure_reason"
WARNINGS_ATTR = "warnings"
#: Features a selection step kept.
SELECTED_FEATURES_ATTR = "selected_features"
#: Out-of-fold predictions (ensemble selection, calibration).
OOF_ATTR = "oof"
#: One-line description, model family and fusion kind of the pipeline.
PIPELINE_ATTR = "pipeline"
MODEL_FAMILY_ATTR = "model_family"
FUSION_KIND_ATTR = "fusion_kind"
#: Where a trial's configuration came from (one of the ``SOURCE_*`` values).
SOURCE_ATTR = "source"
SOURCE_SAMPLER, SOURCE_DEFAULT, SOURCE_PROMOTED, SOURCE_RESCORED = "sampler", "default", "promoted", "rescored"
#: Training rows per fold the trial was fitted on.
TRAIN_ROWS_ATTR = "train_rows"
#: The low-fidelity trial a promoted trial re-runs at full fidelity; the study trial a
#: re-scored one comes from (``"<study>#<number>"``).
PROMOTED_FROM_ATTR = "promoted_from"
RESCORED_FROM_ATTR = "rescored_from"


def is_ensemble(params: Mapping[str, Any]) -> bool:
    """Whether a pipeline spec describes an ensemble of pipelines."""
    return params.get("kind") == ENSEMBLE_KIND


def rank_by_fidelity(trials: Sequence[Any], sign: float) -> list[Any]:
    """Complete trials, best first, never ranking scores of different fidelities as equals.

    A trial ranks in the tier of its own fidelity (share of the training work, see
    :data:`FIDELITY_ATTR`), higher tiers first, by score within a tier; it is lifted into a
    higher tier when its score beats the best trial of that tier by more than the spread of
    its own fold scores. A score measured on fewer training rows is a pessimistic estimate of
    the pipeline on all rows (learning curves fall with more data), so a low-fidelity trial
    that clearly beats every full-fidelity one is the better pipeline, even when the budget
    did not allow scoring it on all rows; a narrow lead at a lower fidelity never counts.

    Args:
        trials: Complete trials (``value`` set).
        sign: ``1.0`` when smaller scores are better, ``-1.0`` when larger are.
    """

    def fidelity(t: Any) -> float:
        return float(t.user_attrs.get(FIDELITY_ATTR, 1.0))

    best_at: dict[float, float] = {}
    for t in trials:
        f = fidelity(t)
        best_at[f] = min(best_at.get(f, float("inf")), sign * float(t.value))

    def tier(t: Any) -> float:
        f, v = fidelity(t), sign * float(t.value)
        spread = t.user_attrs.get(STD_ATTR)
        margin = float(spread) if spread is not None and math.isfinite(float(spread)) else 0.0
        return max([f, *(g for g, best in best_at.items() if g > f and v + margin < best)])

    return sorted(trials, key=lambda t: (-tier(t), sign * float(t.value), t.number))


def study_info(study: Any) -> dict[str, Any]:
    """What :func:`~planner.automl.run_search` recorded on the study (task, metric, seed, space, roles...).

    Raises:
        SpecError: The study was not created by :func:`~planner.automl.run_search`.
    """
    info = study.user_attrs.get(STUDY_ATTR)
    if not info:
        raise SpecError(f"study {study.study_name!r} was not created by planner.automl.run_search; it has no {STUDY_ATTR!r} attribute")
    return info
