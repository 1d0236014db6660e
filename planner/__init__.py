"""planner: AutoML and Bayesian active-learning experiment planning for battery-materials research.

The public surface is small: :class:`Campaign` (the one stateful object), :class:`CampaignSpec`
(its frozen specification) and the exceptions in :mod:`planner.exceptions`. Heavy libraries
(torch, botorch, optuna, ray, featuretools, shap, pybamm) load only when a feature needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planner._version import __version__

if TYPE_CHECKING:
    from planner.campaign import Campaign
    from planner.spec import CampaignSpec

__all__ = ["Campaign", "CampaignSpec", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import planner` stays cheap (pandas/pydantic load on first use).
    if name == "Campaign":
        from planner.campaign import Campaign

        return Campaign
    if name == "CampaignSpec":
        from planner.spec import CampaignSpec

        return CampaignSpec
    raise AttributeError(f"module 'planner' has no attribute {name!r}")
