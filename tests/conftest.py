"""Fixtures shared by the whole suite; sub-packages chain their own on top of these.

The real public datasets live outside the project, in ``../shared/datasets`` beside the clone (CI has
them). A clone without them still passes: every test that needs them skips with one line saying how to
point the suite at a copy (``PLANNER_DATASETS=/path/to/shared/datasets``); ``PLANNER_DATASETS=none``
runs the suite as a clone without them would.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS_ENV = "PLANNER_DATASETS"


def shared_datasets_dir() -> Path:
    """Where the shared datasets are looked for: ``$PLANNER_DATASETS``, else ``../shared/datasets``."""
    configured = os.environ.get(DATASETS_ENV)
    if configured and configured.lower() == "none":  # run as a user's clone would: no shared data
        return Path("/nonexistent/planner-shared-datasets")
    if configured:
        return Path(configured).expanduser().resolve()
    return (REPO_ROOT / ".." / "shared" / "datasets").resolve()


SHARED_DATASETS = shared_datasets_dir()


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The real public datasets; skips (not fails) when they are absent, as in a user's fresh clone."""
    if not SHARED_DATASETS.is_dir():
        if os.environ.get(DATASETS_ENV, "").lower() not in ("", "none"):
            # An explicit setting that points nowhere is a mistake, not a choice to skip.
            pytest.fail(f"{DATASETS_ENV}={os.environ[DATASETS_ENV]!r} is not a directory; "
                        "point it at a copy of shared/datasets or unset it")
        pytest.skip(f"needs the shared datasets, not found at {SHARED_DATASETS}; "
                    f"set {DATASETS_ENV}=/path/to/shared/datasets to run it")
    return SHARED_DATASETS


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


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def synthetic_garnets(n: int = 176, seed: int = 0) -> pd.DataFrame:
    """A generated table shaped like the doped-LLZO set (same columns and kinds), for engine tests
    that need a realistic mix but not the real values: stoichiometries, mostly-zero dopant
    columns, categorical dopants that are mostly absent, a relative density missing in a third of
    the rows, a log-conductivity target and a 0/1 label thresholded from it. Made up here (no
    licence issue); the real set stays in ../shared."""
    rng = np.random.default_rng(seed)
    li_dopant = rng.choice(["ga", "al", "ge", None], n, p=[0.25, 0.18, 0.02, 0.55])
    la_dopant = rng.choice(["sr", "ca", "ba", None], n, p=[0.07, 0.04, 0.04, 0.85])
    zr_dopant = rng.choice(["ta", "sb", "nb", "w", None], n, p=[0.25, 0.1, 0.06, 0.13, 0.46])
    li_dop = np.where(li_dopant != None, rng.uniform(0.05, 0.4, n), 0.0)  # noqa: E711
    la_dop = np.where(la_dopant != None, rng.uniform(0.05, 0.3, n), 0.0)  # noqa: E711
    zr_dop = np.where(zr_dopant != None, rng.uniform(0.1, 1.0, n), 0.0)  # noqa: E711
    radius = {"ga": 62, "al": 54, "ge": 53, "sr": 118, "ca": 100, "ba": 135, "ta": 64, "sb": 60, "nb": 64, "w": 60}
    density = rng.uniform(80, 99, n)
    log_cond = (-3.6 - 0.8 * np.abs(li_dop - 0.25) - 0.6 * np.abs(zr_dop - 0.5) + 0.02 * (density - 90)
                + rng.normal(0, 0.3, n))
    frame = pd.DataFrame({
        "li_sto": 7 - li_dop * 3 - zr_dop, "la_sto": 3 - la_dop, "zr_sto": 2 - zr_dop,
        "li_dop_sto": li_dop, "la_dop_sto": la_dop, "zr_dop_sto": zr_dop,
        "rel_dens_%": np.where(rng.random(n) < 0.36, np.nan, density),
        "log_cond": log_cond,
        "li_dopant": li_dopant, "la_dopant": la_dopant, "zr_dopant": zr_dopant,
        "li_dop_ionicrad": [radius.get(d, 0) for d in li_dopant],
        "la_dop_ionicrad": [radius.get(d, 0) for d in la_dopant],
        "zr_dop_ionicrad": [radius.get(d, 0) for d in zr_dopant],
    })
    frame["good_cond"] = (frame["log_cond"] > frame["log_cond"].median()).astype(int)
    return frame


@pytest.fixture(scope="session")
def garnets_or_synthetic(request) -> tuple[pd.DataFrame, str]:
    """The real LLZO table when ../shared is there, else :func:`synthetic_garnets` (same kinds of
    columns): engine tests that check behaviour, not the real values, run in every clone."""
    try:
        real = request.getfixturevalue("datasets_dir")
    except pytest.skip.Exception:
        return synthetic_garnets(), "synthetic"
    frame = pd.read_csv(real / "llzo_doped_conductivity" / "llzo_dataset_clean.csv").dropna(how="all").iloc[:176]
    frame = frame.reset_index(drop=True).drop(columns=["source", "conductivity"])
    return frame.assign(good_cond=frame["good_cond"].astype(int)), "real"
