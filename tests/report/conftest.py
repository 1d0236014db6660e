"""Real campaigns for the report: real data, a real AutoML study, a refit model, real suggestions.

Chained by name: ``kim_campaign`` (regression, every section filled) is built once per session;
``llzo_campaign`` (classification) and ``redox_campaign`` (two objectives, no search) are
cheaper variants; ``bare_campaign`` has data only, so every section must say what is missing.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.layout import BACKTESTS_DIR, QUALITY_DIR, model_dir, study_name

N_TRIALS = 8


def _search(campaign: Campaign, target: str, n_trials: int = N_TRIALS) -> None:
    """What `planner run` does for one target: run_search on the campaign's storage, refit, save."""
    from planner.automl import refit, run_search

    spec = campaign.spec
    frame = campaign.labelled_data()
    frame = frame[frame[target].notna()].reset_index(drop=True)
    X, y = frame[spec.input_names], frame[target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_search(X, y, task=spec.task, search_space="fast", storage_url=campaign.storage_url, study_name=study_name(target), n_trials=n_trials, seed=spec.seed)
        refit(study, X, y).save(model_dir(campaign.directory, target))


def _quality(campaign: Campaign) -> None:
    from planner.quality import assess

    spec = campaign.spec
    data = campaign.data()
    report = assess(
        data[[c for c in data.columns if not c.startswith("_")]],
        target_columns=spec.target_names,
        dataset_name=spec.name,
        bounds={"LCE": (0.0, None)},  # LCE = -log10(1 - CE) > 0
        explore=False,
    )
    report.save(campaign.directory / QUALITY_DIR)


def _suggest_and_measure(campaign: Campaign, pool: pd.DataFrame, target: str, n_measured: int) -> None:
    """One real suggestion round from a held-back pool; measure ``n_measured`` of them (their true values)."""
    from planner.active import PoolDesign, suggest

    spec = campaign.spec
    frame = campaign.labelled_data()
    inputs = spec.input_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = suggest(frame[inputs], frame[[target]], design=PoolDesign(pool[inputs]), targets=[(target, "max")], n=5, strategy="qucb", surrogate="rf", seed=0)
    with campaign.store.lock():
        logged = campaign.suggestions.append(result.table.drop(columns=["candidate"]), strategy="qucb", model="rf")
    measured = pool.loc[result.table["candidate"].to_numpy()[:n_measured], [*inputs, target]].reset_index(drop=True)
    measured["suggestion_id"] = logged["_suggestion_id"].to_numpy()[:n_measured]
    campaign.observe(measured, source="lab")


def _active_backtest(frame: pd.DataFrame, inputs: list[str], target: str, directory: Path) -> None:
    """What `planner backtest` stores: planner.active.backtest(...).to_dir (runs, curves, summary, metadata)."""
    from planner.active import backtest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = backtest(frame, inputs=inputs, targets=[(target, "max")], strategies=("random", "greedy@rf"), n_seeds=3, budget=15, seed=0)
    result.to_dir(directory)


@pytest.fixture(scope="session")
def kim_frame(datasets_dir: Path) -> pd.DataFrame:
    return pd.read_csv(datasets_dir / "kim2023_pnas_electrolyte_ce" / "CE_data_with_names.csv")


@pytest.fixture(scope="session")
def kim_campaign(tmp_path_factory: pytest.TempPathFactory, kim_frame: pd.DataFrame) -> Path:
    """Regression campaign: 120 source rows, 8 fast trials, a refit model, quality report,
    one suggestion round of 5 with 3 measured, and a backtest run (as `planner backtest` stores it)."""
    root = tmp_path_factory.mktemp("kim")
    frame = kim_frame.drop(columns=["Electrolyte"])
    source, pool = frame.iloc[:120], frame.iloc[120:].reset_index(drop=True)
    source.to_csv(root / "ce.csv", index=False)
    directory = root / "campaign"
    campaign = Campaign.from_csv(directory, root / "ce.csv", ["LCE:max"], search_space="fast", seed=0)
    for column in campaign.spec.input_names:
        assert column in frame.columns
    _search(campaign, "LCE")
    _quality(campaign)
    _suggest_and_measure(Campaign.load(directory), pool, "LCE", n_measured=3)
    _active_backtest(frame, campaign.spec.input_names, "LCE", directory / BACKTESTS_DIR / "planner-backtest")
    return directory


@pytest.fixture(scope="session")
def llzo_campaign(tmp_path_factory: pytest.TempPathFactory, garnets_or_synthetic: tuple[pd.DataFrame, str]) -> Path:
    """Classification campaign (good_cond) over the 176 doped-LLZO rows, 6 fast trials (a generated
    table of the same kinds of columns in a clone without ../shared)."""
    root = tmp_path_factory.mktemp("llzo")
    frame = garnets_or_synthetic[0].drop(columns=["log_cond"])
    frame.to_csv(root / "llzo.csv", index=False)
    campaign = Campaign.from_csv(root / "campaign", root / "llzo.csv", ["good_cond:max"], task="classification", search_space="fast", seed=0)
    _search(campaign, "good_cond", n_trials=6)
    return campaign.directory


@pytest.fixture(scope="session")
def redox_campaign(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    """Two objectives (ered, gsol: min) on 150 redoxmer rows, one suggestion round; no search."""
    root = tmp_path_factory.mktemp("redox")
    frame = pd.read_csv(datasets_dir / "olympus_redoxmers" / "data_with_header.csv")
    frame = frame.sample(n=200, random_state=0).reset_index(drop=True)[["r1_label", "r3_label", "r4_label", "r5_label", "ered", "gsol"]]
    frame.iloc[:150].to_csv(root / "redox.csv", index=False)
    campaign = Campaign.from_csv(root / "campaign", root / "redox.csv", ["ered:min", "gsol:min"], seed=0)
    from planner.active import PoolDesign, suggest

    inputs = campaign.spec.input_names
    observed = campaign.labelled_data()
    pool = frame.iloc[150:].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = suggest(observed[inputs], observed[["ered", "gsol"]], design=PoolDesign(pool[inputs]), targets=[("ered", "min"), ("gsol", "min")], n=4, surrogate="rf", seed=0)
    with campaign.store.lock():
        campaign.suggestions.append(result.table.drop(columns=["candidate"]), strategy=str(result.metadata.get("strategy_used", "?")), model="rf")
    return campaign.directory


@pytest.fixture
def bare_campaign(tmp_path: Path, kim_frame: pd.DataFrame) -> Path:
    """Data only: no search, no model, no quality report, no suggestions, no backtests."""
    kim_frame.drop(columns=["Electrolyte"]).iloc[:60].to_csv(tmp_path / "ce.csv", index=False)
    return Campaign.from_csv(tmp_path / "campaign", tmp_path / "ce.csv", ["LCE:max"], search_space="fast").directory


@pytest.fixture
def artifacts_dir(repo_root: Path) -> Path:
    """``test-artifacts/report/`` (gitignored): screenshots and reports worth a look after a run."""
    path = repo_root / "test-artifacts" / "report"
    path.mkdir(parents=True, exist_ok=True)
    return path


def copy_campaign(directory: Path, target: Path) -> Path:
    shutil.copytree(directory, target)
    return target
