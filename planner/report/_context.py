"""What every section reads: :class:`Context` (the gathered records, the figure writer, caches of
out-of-fold predictions and SHAP values) and the constants the sections share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

import planner.report._figures as F
from planner.report._html import FigureWriter, Section
from planner.report._oof import OutOfFold, out_of_fold
from planner.report._records import BacktestRun, Missing, ReportInputs, TargetRecords
from planner.report._sources import training_rows

#: Metrics in the target's unit; the others are unitless or fractions.
UNIT_METRICS = {"mae", "rmse"}
#: scikit-learn scorer for each objective metric (permutation importance).
SCORERS = {
    "mae": "neg_mean_absolute_error",
    "rmse": "neg_root_mean_squared_error",
    "r2": "r2",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "precision": "precision_weighted",
    "recall": "recall_weighted",
    "f1": "f1_weighted",
    "roc_auc": "roc_auc_ovr",
    "log_loss": "neg_log_loss",
}
N_LEADERBOARD = 25
N_BEESWARM = 12
N_DEPENDENCE = 3
COVERAGE_LEVELS = (0.5, 0.68, 0.9, 0.95)


@dataclass
class Context:
    """What every section may read; results computed once (out-of-fold, SHAP) are cached here."""

    inputs: ReportInputs
    figures: FigureWriter
    allow_recompute: bool = True
    max_shap_samples: int = 200
    colors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    _oof: dict[str, OutOfFold | Missing] = field(default_factory=dict)
    _shap: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> Any:
        return self.inputs.spec

    @property
    def targets(self) -> tuple[TargetRecords, ...]:
        return self.inputs.targets

    @property
    def quality(self) -> Any:
        return self.inputs.quality

    @property
    def suggestions(self) -> pd.DataFrame | Missing:
        return self.inputs.suggestions

    @property
    def backtests(self) -> tuple[BacktestRun, ...] | Missing:
        return self.inputs.backtests

    @property
    def multi(self) -> bool:
        return len(self.targets) > 1

    def oof(self, record: TargetRecords) -> OutOfFold | Missing:
        if record.name not in self._oof:
            start = time.perf_counter()
            self._oof[record.name] = out_of_fold(self.inputs, record, allow_recompute=self.allow_recompute)
            self.timings[f"out-of-fold {record.name}"] = time.perf_counter() - start
        return self._oof[record.name]

    def shap(self, record: TargetRecords) -> Any:
        """``(Explanation, y, raw X)`` for the stored best pipeline, or :class:`Missing`."""
        if record.name not in self._shap:
            start = time.perf_counter()
            self._shap[record.name] = explain_target(self, record)
            self.timings[f"SHAP {record.name}"] = time.perf_counter() - start
        return self._shap[record.name]

    def target_heading(self, section: Section, record: TargetRecords) -> None:
        if self.multi:
            section.heading(f"Target {record.name}")


def metric_label(record: TargetRecords) -> str:
    metric = record.metric
    unit = record.unit if metric in UNIT_METRICS else None
    arrow = "lower is better" if record.minimize else "higher is better"
    return F.axis_label(f"{metric} ({arrow})", unit)


def explain_target(ctx: Context, record: TargetRecords) -> Any:
    """``(Explanation, y, raw X)`` of the stored best pipeline on the labelled rows, or :class:`Missing`."""
    from planner.explain import explain

    if not record.has_model:
        return Missing(record.fitted.reason)
    fitted = record.fitted
    X, y, _ = training_rows(ctx.inputs, record.name, fitted.feature_columns)
    try:
        explanation = explain(fitted, X, max_samples=ctx.max_shap_samples, background=50, seed=int(ctx.spec.seed))
    except Exception as err:  # noqa: BLE001 - the section says why
        return Missing(f"SHAP values could not be computed for the stored pipeline ({type(err).__name__}: {err})")
    rows = explanation.values.index
    return explanation, y.loc[rows], X.loc[rows] if X.index.isin(rows).all() else None
