"""Where a campaign keeps its state: every file name a campaign writes, in one place.

A leaf module (it imports nothing from planner), so the engines and the report may name the
files without importing the campaign package. Every file below is written by planner; nothing
else is::

    campaign.yaml                        the frozen spec (versioned YAML)
    .planner.lock                        advisory lock held while observations/suggestions change
    observations.csv                     append-only measurements (meta columns start with "_")
    optuna.db                            Optuna storage (default; campaign.yaml may name another):
                                         "automl-<target>", then "automl-<target>@v2" after the
                                         training rows changed; "nested-<target>-*" for --nested
    optuna.db-wal                        its write-ahead log while a search writes (local disks;
                                         folded back into optuna.db when the search process ends)
    optuna.db-shm                        the log's index, likewise
    models/<target>/pipeline.joblib      the refit final pipeline (scikit-learn estimator)
    models/<target>/pipeline.json        its rebuild spec (members, weights, calibration)
    models/<target>/oof.csv              its out-of-fold predictions (conformal intervals)
    models/<target>/domain.json          its applicability domain
    models/<target>/trained_on.json      rows it was refit on (the stale-model check)
    suggestions.csv                      every suggestion: _suggestion_id, _round, _suggested_at,
                                         _strategy, _model, _status (pending | observed |
                                         cancelled), inputs, <t>_mean / <t>_std, ..., reason
    suggestions/round_NNN.json           the metadata of suggestion round NNN
    quality/                             data-quality report: quality_report.json/.txt,
                                         quality_summary.csv, quality_issues.csv,
                                         quality_actions.csv, exploration/*.csv
    backtests/<run_id>/                  runs.csv, curves.csv, summary.csv, metadata.json
    backtests/.partial/                  finished backtest runs kept until the result is written
    reports/report.html, summary.md      the HTML report and its Markdown summary
    .cache/features/                     cached composition features of the search
    .ray/                                session folder of a local Ray instance (executor ray)
    measurements/round_NN.csv            `planner demo`: what the simulated lab measured per round
    failed_experiments.csv               `planner demo`: failed simulations with the reason
"""

from __future__ import annotations

from pathlib import Path

SPEC_FILE = "campaign.yaml"
LOCK_FILE = ".planner.lock"
OBSERVATIONS_FILE = "observations.csv"
OPTUNA_FILE = "optuna.db"
MODELS_DIR = "models"
MODEL_FILE = "pipeline.joblib"
MODEL_SPEC_FILE = "pipeline.json"
OOF_FILE = "oof.csv"
DOMAIN_FILE = "domain.json"
TRAINED_ON_FILE = "trained_on.json"
SUGGESTIONS_FILE = "suggestions.csv"
SUGGESTIONS_DIR = "suggestions"
QUALITY_DIR = "quality"
BACKTESTS_DIR = "backtests"
BACKTEST_PARTIAL_DIR = ".partial"
REPORTS_DIR = "reports"
REPORT_HTML_FILE = "report.html"
REPORT_MARKDOWN_FILE = "summary.md"
FEATURE_CACHE_DIR = ".cache/features"
RAY_DIR = ".ray"
MEASUREMENTS_DIR = "measurements"
FAILED_FILE = "failed_experiments.csv"


def study_name(target: str, version: int = 1) -> str:
    """The Optuna study that holds the AutoML trials for ``target`` on one version of the data.

    Version 1 is ``automl-<target>``; when observations change the training data, `planner run`
    starts ``automl-<target>@v2`` (and so on), so that pipelines are only ranked against others
    scored on the same rows. Older studies are kept.
    """
    return f"automl-{target}" if version == 1 else f"automl-{target}@v{version}"


def nested_study_name(target: str) -> str:
    """The prefix of the inner studies of `planner run --nested` for ``target``."""
    return f"nested-{target}"


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
    """``models/<target>/``: the saved final model of ``target``."""
    return Path(campaign_dir) / MODELS_DIR / target


def has_model(campaign_dir: str | Path, target: str) -> bool:
    """Whether ``target`` has a saved final model (its ``pipeline.json``)."""
    return (model_dir(campaign_dir, target) / MODEL_SPEC_FILE).is_file()


def default_storage_url(campaign_dir: str | Path) -> str:
    """The default Optuna storage: ``sqlite:///<campaign dir>/optuna.db`` (absolute)."""
    return f"sqlite:///{(Path(campaign_dir) / OPTUNA_FILE).resolve()}"


def suggestion_metadata_path(campaign_dir: str | Path, round_index: int) -> Path:
    """``suggestions/round_NNN.json``: the metadata of one round of suggestions."""
    return Path(campaign_dir) / SUGGESTIONS_DIR / f"round_{int(round_index):03d}.json"


def measurements_path(campaign_dir: str | Path, round_index: int) -> Path:
    """``measurements/round_NN.csv``: what the demo's simulated lab measured in one round."""
    return Path(campaign_dir) / MEASUREMENTS_DIR / f"round_{int(round_index):02d}.csv"
