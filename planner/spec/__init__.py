"""Frozen, validated specifications of a campaign (what ``campaign.yaml`` holds)."""

from planner.spec._campaign import (
    SPEC_VERSION,
    Budget,
    CampaignSpec,
    DataSource,
    DataSpec,
    DesignSpace,
    ExecutorSpec,
    FractionGroup,
    InputSpec,
    LinearConstraint,
    MergeSpec,
    RelatedTable,
    TargetSpec,
)
from planner.spec._io import dump_spec, load_spec, parse_spec, render_campaign_yaml

__all__ = [
    "SPEC_VERSION",
    "Budget",
    "CampaignSpec",
    "DataSource",
    "DataSpec",
    "DesignSpace",
    "ExecutorSpec",
    "FractionGroup",
    "InputSpec",
    "LinearConstraint",
    "MergeSpec",
    "RelatedTable",
    "TargetSpec",
    "dump_spec",
    "load_spec",
    "parse_spec",
    "render_campaign_yaml",
]
