"""Fixtures for the step tests: real tables and a generated cells -> cycles child table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def btz_pool(datasets_dir) -> pd.DataFrame:
    return pd.read_csv(datasets_dir / "cobol_btz_solubility" / "btz_pool_all_218.csv")


def make_cells_and_cycles(n_cells: int = 12, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells with a known linear capacity fade per cycle, and their cycling records.

    Cell ``i`` fades at ``-(i + 1) * 5e-4`` Ah per cycle, runs 150-300 cycles, and its records are
    shuffled so that nothing depends on the file order.
    """
    rng = np.random.default_rng(seed)
    cells = pd.DataFrame(
        {
            "cell_id": np.arange(n_cells),
            "chemistry": np.where(np.arange(n_cells) % 2, "NMC", "LFP"),
            "c_rate": rng.choice([0.5, 1.0, 2.0], size=n_cells),
        }
    )
    records = []
    for i in range(n_cells):
        n = int(rng.integers(150, 300))
        cycle = np.arange(1, n + 1)
        capacity = 1.1 - (i + 1) * 5e-4 * cycle + rng.normal(0, 2e-3, n)
        records.append(
            pd.DataFrame(
                {
                    "cell_id": i,
                    "cycle": cycle,
                    "capacity": capacity,
                    "voltage": 3.7 + rng.normal(0, 0.01, n),
                    "temperature": 25 + rng.normal(0, 1, n),
                }
            )
        )
    cycles = pd.concat(records, ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return cells, cycles


@pytest.fixture(scope="session")
def cells_and_cycles() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_cells_and_cycles()


@pytest.fixture
def mixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "temperature": [25.0, 30.0, 25.0, 60.0],
            "family": ["Garnet", "NASICON", "Garnet", np.nan],
            "sintered": [True, False, True, True],
        }
    )
