"""Shared loading for the molecule benchmarks: the BTZ pool with canonical SMILES."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("PLANNER_DATASETS", HERE.parents[2] / "shared" / "datasets"))
if not SHARED.exists():
    SHARED = Path("/work/shared/datasets")
TARGET = "BTZ_molar_conc_20Celcius(M)"
SMILES = ["SMILES1", "SMILES2"]
FRACTIONS = ["Solvent1_volFraction", "Solvent2_volFraction"]
INPUTS = ["SMILES1", "Solvent1_volFraction", "SMILES2", "Solvent2_volFraction"]


def btz() -> pd.DataFrame:
    """btz_pool_all_218.csv with canonical SMILES (stray non-breaking spaces removed, so one
    molecule is one level) and "" for the empty second solvent of single-solvent rows."""
    from planner.steps._molecules import canonical_smiles

    df = pd.read_csv(SHARED / "cobol_btz_solubility" / "btz_pool_all_218.csv")
    for column in SMILES:
        df[column] = df[column].map(lambda v: canonical_smiles(v) if isinstance(v, str) else "")
    return df


def mixture_featurizer(kind: str = "compact", gp_kernel: str | None = None):
    from planner.campaign._molecules import CampaignMoleculeFeaturizer

    return CampaignMoleculeFeaturizer(numeric=FRACTIONS, smiles=SMILES, categorical=[], mixtures=[("solvent", SMILES, FRACTIONS)], kind=kind, gp_kernel=gp_kernel)


def solvents_of(df: pd.DataFrame) -> list[str]:
    return sorted({s for c in SMILES for s in df[c] if s})
