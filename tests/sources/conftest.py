"""Real datasets for the data-source tests, chained on the session fixture ``datasets_dir``."""

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
