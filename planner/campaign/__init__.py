"""The campaign: one directory, one ``campaign.yaml``, append-only state."""

from planner.campaign._campaign import SPEC_FILE, Campaign, ObserveReport, parse_target
from planner.campaign._freshness import ModelFreshness as ModelFreshness, model_freshness as model_freshness  # public for the report (issue 18)
from planner.campaign._layout import BACKTESTS_DIR as BACKTESTS_DIR, OPTUNA_FILE as OPTUNA_FILE, QUALITY_DIR as QUALITY_DIR, REPORTS_DIR as REPORTS_DIR, SUGGESTIONS_FILE as SUGGESTIONS_FILE, latest_study_name as latest_study_name, model_dir as model_dir  # public file names for the report (issue 18)
from planner.campaign._infer import infer_columns
from planner.campaign._status import CampaignStatus
from planner.campaign._store import ObservationStore

__all__ = ["Campaign", "CampaignStatus", "ObservationStore", "ObserveReport", "SPEC_FILE", "infer_columns", "parse_target"]
