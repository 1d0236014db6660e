"""Fixtures for the AutoML engine tests: real datasets, a real sqlite Optuna storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def kim_ce(datasets_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Kim et al. 2023 electrolytes: 150 rows, 13 numeric features, LCE (regression)."""
    folder = datasets_dir / "kim2023_pnas_electrolyte_ce"
    return pd.read_csv(folder / "CE_X.csv"), pd.read_csv(folder / "CE_y.csv")["LCE"]


@pytest.fixture(scope="session")
def llzo(datasets_dir: Path) -> pd.DataFrame:
    """Doped LLZO garnets: 176 rows, missing relative density, categorical dopants."""
    frame = pd.read_csv(datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv")
    frame = frame.dropna(how="all").iloc[:176].reset_index(drop=True)
    return frame.assign(good_cond=frame["good_cond"].astype(int))


@pytest.fixture(scope="session")
def llzo_features(llzo: pd.DataFrame) -> pd.DataFrame:
    return llzo.drop(columns=["source", "conductivity", "log_cond", "good_cond"])


@pytest.fixture(scope="session")
def liverpool_rt(datasets_dir: Path) -> pd.DataFrame:
    """Liverpool Li-ion conductivities measured near room temperature (15-35 °C)."""
    frame = pd.read_csv(datasets_dir / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv", encoding="utf-8-sig")
    return frame[(frame["temperature"] >= 15) & (frame["temperature"] <= 35)].reset_index(drop=True)


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'optuna.db'}"


@pytest.fixture(scope="session")
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def lce_study(kim_ce, tmp_path_factory):
    """A finished 5-trial study on the Kim CE data (fast space, sqlite file)."""
    from planner.automl import run_search

    X, y = kim_ce
    url = f"sqlite:///{tmp_path_factory.mktemp('lce') / 'optuna.db'}"
    return run_search(X, y, task="regression", search_space="fast", storage_url=url, study_name="lce", n_trials=5, seed=3)
