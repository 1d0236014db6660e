"""Real datasets for the quality tests, chained on the session fixture ``datasets_dir``."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def liverpool(datasets_dir) -> pd.DataFrame:
    """Liverpool Li-ion conductivity database: 820 rows, file starts with a UTF-8 BOM."""
    path = datasets_dir / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv"
    return pd.read_csv(path, encoding="utf-8-sig")


@pytest.fixture(scope="session")
def llzo(datasets_dir) -> pd.DataFrame:
    """Doped LLZO: 176 non-empty rows of 989 lines; relative density missing in 63."""
    path = datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv"
    return pd.read_csv(path).dropna(how="all").reset_index(drop=True)


@pytest.fixture(scope="session")
def kim(datasets_dir) -> pd.DataFrame:
    """Kim et al. 2023 electrolytes: 150 rows, 13 elemental-ratio features, target LCE."""
    path = datasets_dir / "kim2023_pnas_electrolyte_ce" / "CE_data_with_names.csv"
    return pd.read_csv(path)
