"""The report's input: small frozen records gathered from a campaign once, then only read.

:class:`ReportInputs` holds everything the sections show (the spec, the frames of
observations / suggestions, each target's study, trials and model, the quality report, the
backtest curves) and the paths they name; :func:`planner.report.gather_inputs` builds it from
a campaign, :func:`planner.report.write_report` turns it into the HTML page and the summary.
Nothing here reads a file or imports another planner package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Missing", "TargetRecords", "BacktestRun", "ReportPaths", "ReportInputs"]


@dataclass(frozen=True)
class Missing:
    """Why a section has no data: shown to the reader as is."""

    reason: str


@dataclass(frozen=True)
class TargetRecords:
    """What is stored for one target: its AutoML study and its refit pipeline.

    Attributes:
        name, direction, unit: From the campaign spec.
        study: The Optuna study, or why there is none.
        info: What the search recorded on the study (task, metric, direction, cv, roles...).
        trials: One row per finished trial (see :func:`trial_table`), or ``None``.
        fitted: The refit best pipeline (``models/<target>/``), or why there is none.
        freshness: The saved model's :class:`~planner.campaign.ModelFreshness` (observations
            that arrived after the refit), or ``None``.
        model_dir: Where the refit pipeline is stored (``models/<target>/``; its ``oof.csv``).
    """

    name: str
    direction: str
    unit: str | None
    study: Any
    info: dict[str, Any] = field(default_factory=dict)
    trials: pd.DataFrame | None = None
    fitted: Any = None
    freshness: Any = None
    model_dir: Path | None = None

    @property
    def has_study(self) -> bool:
        return not isinstance(self.study, Missing)

    @property
    def has_trials(self) -> bool:
        return self.trials is not None and not self.trials.empty and bool((self.trials["state"] == "complete").any())

    @property
    def has_model(self) -> bool:
        return self.fitted is not None and not isinstance(self.fitted, Missing)

    @property
    def metric(self) -> str:
        return str(self.info.get("metric", "score"))

    @property
    def minimize(self) -> bool:
        return self.info.get("direction", "minimize") == "minimize"


@dataclass(frozen=True)
class BacktestRun:
    """One ``backtests/<run_id>/`` directory.

    Attributes:
        run_id: The directory name.
        curves: Per-seed long table with ``strategy``, ``seed``, ``n`` and ``best_so_far``
            and/or ``top_pct`` (share of the top set found), or why there is none.
        tables: Named tables to show as they are (per-arm summary with AF, EF, protocol).
        top_label: Which top set ``top_pct`` counts (e.g. ``top_5pct_found``).
    """

    run_id: str
    curves: pd.DataFrame | Missing
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    top_label: str = "top_pct"


@dataclass(frozen=True)
class ReportPaths:
    """The campaign files the report names or dates (all inside :attr:`directory`).

    Attributes:
        directory: The campaign directory (shown in the summary).
        spec_file: ``campaign.yaml`` (its modification time: "created / changed").
        suggestion_rounds: The folder of ``round_NNN.json`` (each round's logged metadata).
        reports_dir: Where the report goes by default (``reports/``).
    """

    directory: Path
    spec_file: Path
    suggestion_rounds: Path
    reports_dir: Path

    def suggestion_round(self, number: int) -> Path:
        """``round_NNN.json`` of suggestion round ``number``."""
        return self.suggestion_rounds / f"round_{int(number):03d}.json"


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, read from a campaign once.

    Attributes:
        spec: The campaign spec (name, task, inputs, targets, data sources, seed, budget).
        paths: The files the report names (:class:`ReportPaths`).
        sources: Rows from the data sources (``_source``, ``_line`` meta columns).
        observations: Rows observed in the campaign (``_obs_id``, ``_observed_at``, ...).
        data: Both, sources first (what ``Campaign.data()`` returns).
        labelled: The rows the search trains on (``Campaign.labelled_data()``).
        targets: One :class:`TargetRecords` per target, in the spec's order.
        quality: The saved quality report, or why there is none.
        suggestions: The suggestion log (``_round``, ``_status``, ``<t>_mean``/``_std``...), or why
            there is none.
        backtests: One :class:`BacktestRun` per ``backtests/<run>/``, or why there is none.
    """

    spec: Any
    paths: ReportPaths
    sources: pd.DataFrame
    observations: pd.DataFrame
    data: pd.DataFrame
    labelled: pd.DataFrame
    targets: tuple[TargetRecords, ...]
    quality: Any
    suggestions: pd.DataFrame | Missing
    backtests: tuple[BacktestRun, ...] | Missing
