"""Records the Campaign facade returns: plain data, light to import (no engine is loaded)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class TrialEvent:
    """One finished trial of a search, as :meth:`Campaign.search`'s ``on_trial`` receives it."""

    target: str
    number: int
    state: str  # complete, pruned or fail
    value: float | None
    std: float | None
    pipeline: str
    failure_reason: str | None
    best_value: float | None
    best_number: int | None

    @classmethod
    def from_trial(cls, target: str, study: Any, trial: Any) -> TrialEvent:
        """The event of ``trial`` (an Optuna FrozenTrial) of ``target``'s ``study``."""
        from planner.automl._keys import FAILURE_REASON_ATTR, PIPELINE_ATTR, STD_ATTR

        attrs = trial.user_attrs
        best_value = best_number = None
        if trial.state.name == "COMPLETE":
            try:
                best = study.best_trial
                best_value, best_number = best.value, best.number
            except ValueError:
                pass
        reason = attrs.get(FAILURE_REASON_ATTR)
        return cls(target=target, number=trial.number, state=trial.state.name.lower(), value=trial.value,
                   std=attrs.get(STD_ATTR), pipeline=attrs.get(PIPELINE_ATTR, ""),
                   failure_reason=str(reason) if reason else None, best_value=best_value, best_number=best_number)


@dataclass(frozen=True)
class SuggestionBatch:
    """One round of suggestions as logged (``table``) and how they were made (``metadata``)."""

    table: pd.DataFrame
    metadata: dict[str, Any]

    @property
    def round(self) -> int:
        """The round of the suggestion log these suggestions were logged in."""
        return int(self.table["_round"].iloc[0]) if len(self.table) else 0

    def __iter__(self) -> Iterator[Any]:  # ``table, metadata = campaign.suggest()``
        return iter((self.table, self.metadata))


@dataclass(frozen=True)
class BacktestRun:
    """A backtest's result and the folder it was saved in (``backtests/<run id>/``)."""

    result: Any
    directory: Path

    def __iter__(self) -> Iterator[Any]:  # ``result, directory = campaign.backtest()``
        return iter((self.result, self.directory))
