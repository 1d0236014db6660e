"""Names shared by the engine's stages: trial states, study/trial attribute keys, spec kinds.

A leaf module (no planner imports besides the exceptions), so every stage can read the
records another stage wrote without importing that stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.exceptions import SpecError

__all__ = [
    "COMPLETE",
    "PRUNED",
    "FAILED",
    "STUDY_ATTR",
    "ENSEMBLE_KIND",
    "FIDELITY_ATTR",
    "is_ensemble",
    "study_info",
]

#: Statuses of a trial result.
COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"
#: Study user attribute holding what the engine needs to refit and to resume safely.
STUDY_ATTR = "planner"
#: ``params["kind"]`` of a spec that averages whole pipelines (see :mod:`planner.automl._ensemble`).
ENSEMBLE_KIND = "ensemble"
#: Trial user attribute: share of each training fold's rows the trial was fitted on (1.0 = all).
FIDELITY_ATTR = "fidelity"


def is_ensemble(params: Mapping[str, Any]) -> bool:
    """Whether a pipeline spec describes an ensemble of pipelines."""
    return params.get("kind") == ENSEMBLE_KIND


def study_info(study: Any) -> dict[str, Any]:
    """What :func:`~planner.automl.run_search` recorded on the study (task, metric, seed, space, roles...).

    Raises:
        SpecError: The study was not created by :func:`~planner.automl.run_search`.
    """
    info = study.user_attrs.get(STUDY_ATTR)
    if not info:
        raise SpecError(f"study {study.study_name!r} was not created by planner.automl.run_search; it has no {STUDY_ATTR!r} attribute")
    return info
