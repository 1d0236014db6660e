"""Build the estimator of any pipeline spec (one pipeline or an ensemble of them), and name it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.automl._components import get_component
from planner.automl._ensemble_model import build_ensemble
from planner.automl._keys import ENSEMBLE_KIND, is_ensemble
from planner.automl._rowfeatures import composition_featurizer
from planner.automl._single import build_single_pipeline, own_params

__all__ = ["build_pipeline", "describe_pipeline", "PipelineDescription", "ENSEMBLE_KIND", "is_ensemble", "composition_featurizer"]


def build_pipeline(
    params: Mapping[str, Any],
    *,
    task: str,
    column_roles: Mapping[str, str],
    seed: int = 0,
) -> Any:
    """Build the unfitted scikit-learn estimator a pipeline spec describes.

    Numeric columns go through outlier handling, imputation and scaling; categorical
    columns through most-frequent imputation and the encoder; composition columns through
    their representation (``representation.<column>``) and the numeric steps; then feature
    selection and the model (possibly a bagging / boosting / stacking / voting ensemble).
    Every data-dependent step is inside the pipeline, so cross-validation refits it per fold.
    A spec with ``kind: ensemble`` averages whole pipelines.

    Args:
        params: A pipeline spec, as returned by :meth:`SearchSpace.suggest` or stored in
            a trial's ``params`` user attribute.
        task: ``"regression"`` or ``"classification"``.
        column_roles: Role per used column (``numeric`` / ``categorical`` /
            ``composition``); other roles are left out of the pipeline.
        seed: ``random_state`` for every randomized step.

    Returns:
        An unfitted ``sklearn.pipeline.Pipeline`` (or pipeline ensemble) taking a DataFrame
        with those columns.

    Raises:
        SpecError: The spec names an unknown component or one of the other task.
    """
    if is_ensemble(params):
        return build_ensemble(params, task=task, column_roles=column_roles, seed=seed)
    return build_single_pipeline(params, task=task, column_roles=column_roles, seed=seed)


@dataclass(frozen=True)
class PipelineDescription:
    """How the leaderboard names a pipeline.

    Attributes:
        summary: e.g. ``median-impute > mi-select(30%) > stack[rf, svr, gp]``.
        model_family: Family of the model, or ``+``-joined families of a fusion.
        fusion_kind: ``single``, ``homogeneous:forest``, ``homogeneous:boosting``,
            ``homogeneous:bagging``, ``heterogeneous:stacking``, ``heterogeneous:voting``
            or ``heterogeneous:ensemble_selection`` (whole pipelines averaged after the search).
    """

    summary: str
    model_family: str
    fusion_kind: str


def describe_pipeline(params: Mapping[str, Any]) -> PipelineDescription:
    """Summarize a pipeline spec for people (leaderboard, progress bar)."""
    if is_ensemble(params):
        members = [describe_pipeline(m) for m in params.get("members", [])]
        inner = " | ".join(f"{w:.2f} x ({d.summary})" for w, d in zip(params.get("weights", []), members, strict=False))
        families = "+".join(sorted({f for d in members for f in d.model_family.split("+")}))
        return PipelineDescription(f"ensemble[{inner}]", families, "heterogeneous:ensemble_selection")
    parts = [f"{value}({key.split('.', 1)[1]})" for key, value in sorted(params.items()) if key.startswith("representation.")]
    parts += [f"{k.split('.', 1)[1]}:{v}" for k, v in params.items() if k.startswith("molecules.")]
    for step in ("outliers", "imputer", "encoder", "scaler", "selector"):
        if step in params:
            label = get_component(step, params[step]).summary(own_params(params, f"{step}.{params[step]}"))
            if label:
                parts.append(label)
    kind = params.get("fusion", "single")
    if kind == "single":
        model = get_component("model", params["model"])
        parts.append(model.label)
        return PipelineDescription(" > ".join(parts), model.family, model.intrinsic_fusion)
    if kind in ("bagging", "boosting"):
        base = get_component("model", params[f"{kind}.base"])
        parts.append(f"{'bagging' if kind == 'bagging' else 'adaboost'}[{base.label}]")
        return PipelineDescription(" > ".join(parts), base.family, f"homogeneous:{kind}")
    bases = [get_component("model", n) for n in str(params[f"{kind}.bases"]).split("+")]
    inner = ", ".join(b.label for b in bases)
    if kind == "stacking":
        parts.append(f"stack[{inner}] > {params.get('stacking.meta', '?')}")
    else:
        parts.append(f"vote[{inner}]")
    families = "+".join(sorted({b.family for b in bases}))
    return PipelineDescription(" > ".join(parts), families, f"heterogeneous:{kind}")
