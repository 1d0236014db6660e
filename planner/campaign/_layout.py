"""Where a campaign keeps its state, in one place. Every stage reads and writes through these names.

::

    campaign.yaml              the frozen spec (versioned YAML)
    observations.csv           append-only measurements (meta columns start with "_")
    failed_experiments.csv     experiments that failed in the lab/simulator, with the reason
    optuna.db                  Optuna storage (default); one study per target and data version:
                               "automl-<target>", then "automl-<target>@v2" after the data changed
    models/<target>/trained_on.json  rows the saved model was refit on (stale-model check)
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


def study_name(target: str, version: int = 1) -> str:
    """The Optuna study that holds the AutoML trials for ``target`` on one version of the data.

    Version 1 is ``automl-<target>``; when observations change the training data, `planner run`
    starts ``automl-<target>@v2`` (and so on), so that pipelines are only ranked against others
    scored on the same rows. Older studies are kept.
    """
    return f"automl-{target}" if version == 1 else f"automl-{target}@v{version}"


def study_version(name: str, target: str) -> int | None:
    """The data version of a study name of ``target`` (``None`` for another target's study)."""
    base = f"automl-{target}"
    if name == base:
        return 1
    if name.startswith(base + "@v") and name[len(base) + 2:].isdigit():
        return int(name[len(base) + 2:])
    return None


def latest_study_name(study_names: list[str], target: str) -> str:
    """The newest data version among ``study_names`` for ``target`` (``automl-<target>`` if none)."""
    versions = [v for v in (study_version(n, target) for n in study_names) if v is not None]
    return study_name(target, max(versions) if versions else 1)


def model_dir(campaign_dir: str | Path, target: str) -> Path:
    return Path(campaign_dir) / MODELS_DIR / target
