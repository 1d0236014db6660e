"""The campaign: one directory, one ``campaign.yaml``, append-only state.

:class:`Campaign` is the facade: its methods are the verbs of the command line
(``assess_quality``, ``search``, ``predict``, ``suggest``, ``observe``, ``cancel``, ``backtest``,
``report``, ``explain``, ``status``); file names come from :mod:`planner.layout`.
"""

from planner.campaign._campaign import SPEC_FILE, Campaign, ObserveReport, parse_target
from planner.campaign._infer import infer_columns
from planner.campaign._records import BacktestRun, SuggestionBatch, TrialEvent
from planner.campaign._status import CampaignStatus
from planner.campaign._store import ObservationStore

__all__ = [
    "BacktestRun",
    "Campaign",
    "CampaignStatus",
    "ObservationStore",
    "ObserveReport",
    "SPEC_FILE",
    "SuggestionBatch",
    "TrialEvent",
    "infer_columns",
    "parse_target",
]
