from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def kim_ce(datasets_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Kim et al. 2023 electrolytes: 150 rows, 13 numeric features, LCE (regression)."""
    folder = datasets_dir / "kim2023_pnas_electrolyte_ce"
    return pd.read_csv(folder / "CE_X.csv"), pd.read_csv(folder / "CE_y.csv")["LCE"]


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'optuna.db'}"


@pytest.fixture(scope="module")
def ray_local():
    """A real local Ray instance (2 CPUs, no dashboard), shut down after the module."""
    import os

    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
