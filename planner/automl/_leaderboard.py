"""The leaderboard: a study's pipelines ranked by their cross-validated score."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from planner.automl._keys import (
    BASELINES_ATTR,
    FAILURE_REASON_ATTR,
    FIDELITY_ATTR,
    FIT_TIME_ATTR,
    FOLD_SCORES_ATTR,
    FUSION_KIND_ATTR,
    MEAN_ATTR,
    MODEL_FAMILY_ATTR,
    PIPELINE_ATTR,
    SOURCE_ATTR,
    SOURCE_SAMPLER,
    STD_ATTR,
    STUDY_ATTR,
    rank_by_fidelity,
)

if TYPE_CHECKING:
    import optuna

__all__ = ["leaderboard", "baselines", "LEADERBOARD_COLUMNS", "BASELINE_COLUMNS"]

LEADERBOARD_COLUMNS = (
    "rank",
    "trial",
    "pipeline",
    "metric",
    "mean",
    "std",
    "score",
    "n_folds",
    "fit_time_s",
    "model_family",
    "fusion",
    "state",
    "source",
    "failure_reason",
    "fidelity",
)
#: Columns of :func:`baselines`.
BASELINE_COLUMNS = ("baseline", "pipeline", "metric", "mean", "std", "score", "n_folds", "fit_time_s", "state", "reason")


def leaderboard(study: optuna.Study, top: int | None = None, *, include_failed: bool = False) -> pd.DataFrame:
    """Rank a study's finished pipelines.

    Args:
        study: A study made by :func:`~planner.automl.run_search`.
        top: Keep the best ``top`` rows (all when ``None``).
        include_failed: Append pruned and failed trials (unranked) with their reasons.

    Returns:
        One row per trial, best first, with columns :data:`LEADERBOARD_COLUMNS`:
        ``rank`` (1 = best), ``trial`` (number), ``pipeline`` (summary such as
        ``median-impute > mi-select(30%) > stack[rf, svr, gp] > ridge``), ``metric``,
        ``mean`` and ``std`` over folds, ``score`` (``"0.213 ± 0.031"``), ``n_folds``,
        ``fit_time_s`` (all folds), ``model_family``, ``fusion`` (``single``,
        ``homogeneous:*``, ``heterogeneous:*``), ``state``, ``source`` (``default`` for
        enqueued starting points, ``promoted`` for re-runs on all rows), ``failure_reason``
        (whole) and ``fidelity`` (share of each training fold's rows the trial was fitted
        on). Trials fitted on all rows rank above lower-fidelity ones whatever their
        scores: scores of different fidelities are not ranked as equals.
    """
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    info = study.user_attrs.get(STUDY_ATTR, {})
    metric = info.get("metric", "value")
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)):
        if t.state != TrialState.COMPLETE and not include_failed:
            continue
        attrs = t.user_attrs
        folds = [s for s in attrs.get(FOLD_SCORES_ATTR) or [] if s is not None]
        mean = t.value if t.state == TrialState.COMPLETE else attrs.get(MEAN_ATTR)
        std = attrs.get(STD_ATTR)
        rows.append(
            {
                "trial": t.number,
                "pipeline": attrs.get(PIPELINE_ATTR, "?"),
                "metric": metric,
                "mean": mean,
                "std": std,
                "score": "" if mean is None else f"{mean:.4g} ± {std:.2g}" if std is not None else f"{mean:.4g}",
                "n_folds": len(folds),
                "fit_time_s": attrs.get(FIT_TIME_ATTR),
                "model_family": attrs.get(MODEL_FAMILY_ATTR, "?"),
                "fusion": attrs.get(FUSION_KIND_ATTR, "?"),
                "state": t.state.name.lower(),
                "source": attrs.get(SOURCE_ATTR, SOURCE_SAMPLER),
                "failure_reason": attrs.get(FAILURE_REASON_ATTR),
                "fidelity": float(attrs.get(FIDELITY_ATTR, 1.0)),
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in LEADERBOARD_COLUMNS if c != "rank"])
    complete = frame[frame["state"] == "complete"]
    # fidelity first, unless a lower-fidelity trial clearly beats a higher tier (rank_by_fidelity):
    # rank 1 is the pipeline fit_final refits
    sign = 1.0 if study.direction == StudyDirection.MINIMIZE else -1.0
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE and t.value is not None]
    order = {t.number: i for i, t in enumerate(rank_by_fidelity(done, sign))}
    complete = complete.assign(_order=complete["trial"].map(order).fillna(len(order))).sort_values(["_order", "trial"], kind="mergesort").drop(columns="_order")
    complete.insert(0, "rank", range(1, len(complete) + 1))
    others = frame[frame["state"] != "complete"].sort_values("trial")
    others.insert(0, "rank", pd.NA)
    if top is not None:
        complete = complete.head(top)
    parts = [p for p in (complete, others) if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else complete.reset_index(drop=True)
    out["rank"] = out["rank"].astype("Int64")
    return out


def baselines(study: optuna.Study) -> pd.DataFrame:
    """The baselines scored on the study's folds: the mean (or majority-class) predictor and a
    default random forest, so a reader sees what the search bought.

    Returns:
        One row per baseline with columns :data:`BASELINE_COLUMNS` (empty when the search
        recorded none, e.g. a study from before baselines existed).
    """
    info = study.user_attrs.get(STUDY_ATTR, {})
    rows = []
    for b in study.user_attrs.get(BASELINES_ATTR) or []:
        mean, std = b.get("mean"), b.get("std")
        rows.append(
            {
                "baseline": b.get("name"),
                "pipeline": b.get("pipeline"),
                "metric": info.get("metric", "value"),
                "mean": mean,
                "std": std,
                "score": "" if mean is None else f"{mean:.4g} ± {std:.2g}" if std is not None else f"{mean:.4g}",
                "n_folds": b.get("n_folds"),
                "fit_time_s": b.get("fit_time_s"),
                "state": b.get("status"),
                "reason": b.get("reason"),
            }
        )
    return pd.DataFrame(rows, columns=list(BASELINE_COLUMNS))
