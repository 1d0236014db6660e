"""Fixtures of the active-learning tests: real pools from ``../shared/datasets``.

Each fixture follows the dataset's PROVENANCE.md: replicates averaged per unique input
(Liang et al. pools), the OER plate's six fractions summing to 1, the redoxmers' four
categorical substituents with three objectives to minimize.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def agnp_pool(datasets_dir: Path) -> pd.DataFrame:
    """AgNP synthesis pool: 164 unique inputs, ``loss`` to minimize (replicates averaged)."""
    df = pd.read_csv(datasets_dir / "liang2021_pvlab" / "AgNP_dataset.csv")
    inputs = list(df.columns[:-1])
    return df.groupby(inputs, as_index=False, sort=False)["loss"].mean()


@pytest.fixture(scope="session")
def agnp_inputs(agnp_pool: pd.DataFrame) -> list[str]:
    return [c for c in agnp_pool.columns if c != "loss"]


@pytest.fixture(scope="session")
def autoam_pool(datasets_dir: Path) -> pd.DataFrame:
    """AutoAM pool: 100 unique print settings, ``Score`` to maximize."""
    return pd.read_csv(datasets_dir / "liang2021_pvlab" / "AutoAM_dataset.csv")


@pytest.fixture(scope="session")
def oer_plate(datasets_dir: Path) -> pd.DataFrame:
    """OER plate 3496: six metal fractions on a 10 % grid summing to 1, overpotential (min)."""
    return pd.read_csv(datasets_dir / "olympus_oer_plates" / "plate_3496" / "data_with_header.csv")


@pytest.fixture(scope="session")
def oer_fractions(oer_plate: pd.DataFrame) -> list[str]:
    return [c for c in oer_plate.columns if c.endswith("_load")]


@pytest.fixture(scope="session")
def redoxmers(datasets_dir: Path) -> pd.DataFrame:
    """1,408 redoxmers: four categorical substituents, three objectives to minimize."""
    return pd.read_csv(datasets_dir / "olympus_redoxmers" / "data_with_header.csv")


@pytest.fixture(scope="session")
def redox_inputs() -> list[str]:
    return ["r1_label", "r3_label", "r4_label", "r5_label"]


@pytest.fixture(scope="session")
def redox_targets() -> list[tuple[str, str]]:
    return [("abs_lam_diff", "min"), ("ered", "min"), ("gsol", "min")]


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """GP fits are many small linear-algebra steps; on a shared 2-core machine extra threads
    only add contention (``suggest`` itself defaults to ``n_threads=1`` for the same reason)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
