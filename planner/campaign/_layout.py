"""Where a campaign keeps its state, in one place. Every stage reads and writes through these names.

::

    campaign.yaml              the frozen spec (versioned YAML)
    observations.csv           append-only measurements (meta columns start with "_")
    failed_experiments.csv     experiments that failed in the lab/simulator, with the reason
    optuna.db                  Optuna storage (default); one study per target: "automl-<target>"
    models/<target>/           refit best pipeline: model.joblib + pipeline.json (rebuild spec)
    suggestions.csv            log of every suggestion: _round, _suggested_at, _strategy, _model,
                               _status (pending | observed | cancelled), inputs, per-target
                               <t>_mean / <t>_std, acquisition_value, distance_to_nearest, reason
    quality/                   data-quality report (quality_report.json/.txt, quality_*.csv)
    backtests/<run_id>/        backtest results (curves.csv, summary.json)
    reports/                   report.html + summary.md
"""

from __future__ import annotations

from pathlib import Path

SPEC_FILE = "campaign.yaml"
OBSERVATIONS_FILE = "observations.csv"
FAILED_FILE = "failed_experiments.csv"
OPTUNA_FILE = "optuna.db"
MODELS_DIR = "models"
SUGGESTIONS_FILE = "suggestions.csv"
QUALITY_DIR = "quality"
BACKTESTS_DIR = "backtests"
REPORTS_DIR = "reports"


def study_name(target: str) -> str:
    """The Optuna study that holds the AutoML trials for ``target``."""
    return f"automl-{target}"


def model_dir(campaign_dir: str | Path, target: str) -> Path:
    return Path(campaign_dir) / MODELS_DIR / target
