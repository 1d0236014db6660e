"""SHAP explanations of a fitted pipeline, in the feature space its model sees.

::

    from planner.explain import explain
    e = explain(fitted, X)          # fitted: planner.automl.FittedPipeline or a fitted Pipeline
    e.values                        # n x p SHAP values (DataFrame), columns = features after preprocessing
    e.importance()                  # mean |SHAP| per feature, largest first

Importing this package loads nothing heavy; shap and scikit-learn load on the first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.explain._explain import Explanation, explain

__all__ = ["Explanation", "explain"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from planner.explain import _explain

        value = getattr(_explain, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'planner.explain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
