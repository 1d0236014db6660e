"""The campaign: one directory, one ``campaign.yaml``, append-only state."""

from planner.campaign._campaign import SPEC_FILE, Campaign, ObserveReport, parse_target
from planner.campaign._infer import infer_columns
from planner.campaign._status import CampaignStatus
from planner.campaign._store import ObservationStore

__all__ = ["Campaign", "CampaignStatus", "ObservationStore", "ObserveReport", "SPEC_FILE", "infer_columns", "parse_target"]
