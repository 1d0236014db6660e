"""Molecules and mixtures in a campaign: init roles, canonical levels, bad input, pools, suggest."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.exceptions import DataValidationError
from planner.spec import CampaignSpec, DataSource, DataSpec, FractionGroup, InputSpec, TargetSpec
from planner.steps._molecules import canonical_smiles

BTZ_TARGET = "BTZ_molar_conc_20Celcius(M)"
SOLVENTS = ["COCCOC", "C1COCCO1", "CC#N", "CN(C)C=O", "CS(C)=O", "CCOC(C)=O", "CC1COC(=O)O1"]


@pytest.fixture
def mixture_csv(tmp_path):
    """A small binary-solvent table: names, SMILES (some with stray spaces), fractions, a target."""
    rng = np.random.default_rng(0)
    rows = []
    for i, a in enumerate(SOLVENTS):
        rows.append({"Solvent1": f"s{i}", "SMILES1": a + ("\u00a0" if i % 2 else ""), "Solvent1_volFraction": 1.0, "Solvent2": None, "SMILES2": None, "Solvent2_volFraction": 0.0})
        for j, b in enumerate(SOLVENTS[i + 1 :], start=i + 1):
            for f in (0.3, 0.7):
                rows.append({"Solvent1": f"s{i}", "SMILES1": a, "Solvent1_volFraction": f, "Solvent2": f"s{j}", "SMILES2": b + (" " if j % 3 == 0 else ""), "Solvent2_volFraction": round(1 - f, 10)})
    frame = pd.DataFrame(rows)
    frame["solubility"] = rng.normal(5, 1, len(frame)).round(3)
    path = tmp_path / "mix.csv"
    frame.to_csv(path, index=False)
    return path


def test_init_on_btz_gets_roles_and_the_fraction_group(datasets_dir, tmp_path):
    data = datasets_dir / "cobol_btz_solubility" / "btz_pool_all_218.csv"
    campaign = Campaign.from_csv(tmp_path / "btz", data, [f"{BTZ_TARGET}:max"])
    roles = {i.name: i.role for i in campaign.spec.inputs}
    assert roles == {"SMILES1": "smiles", "Solvent1_volFraction": "numeric", "SMILES2": "smiles", "Solvent2_volFraction": "numeric"}
    assert set(campaign.spec.data.ignore) == {"Solvent1", "Solvent2"}  # names of the molecules
    (group,) = campaign.spec.fraction_groups
    assert group.columns == ["Solvent1_volFraction", "Solvent2_volFraction"] and group.total == 1.0
    assert group.molecules == ["SMILES1", "SMILES2"]
    text = (tmp_path / "btz" / "campaign.yaml").read_text()
    assert "'BA' is written as 2 different molecules" in text  # the source's data-entry issue is pointed out
    # one molecule is one level: 23 distinct molecules over both columns, not the 39 raw spellings
    data_frame = campaign.labelled_data()
    levels = set(data_frame["SMILES1"].dropna()) | set(data_frame["SMILES2"].dropna())
    raw = pd.read_csv(data)
    assert len(set(raw["SMILES1"]) | set(raw["SMILES2"].dropna())) == 39
    assert len(levels) == 23 and all(canonical_smiles(v) == v for v in levels)
    report = campaign.assess_quality(save=False)
    merges = [a for a in report.actions if a.action == "merged_spellings"]
    assert len(merges) == 12 and any("CS(=O)C" in a.reason for a in merges)


def test_llzo_dopant_labels_are_not_smiles(datasets_dir):
    from planner.campaign._infer import infer_columns

    frame = pd.read_csv(datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv")
    roles = {i.name: i.role for i in infer_columns(frame, targets=["conductivity"]).inputs}
    assert roles["la_dopant"] == roles["li_dopant"] == roles["zr_dopant"] == "categorical"
    assert "smiles" not in roles.values()


def test_space_groups_and_numbers_are_not_fraction_groups_or_smiles():
    from planner.campaign._infer import infer_columns

    frame = pd.DataFrame({"sg": ["P -1", "Pnma", "P1", "Fm-3m"] * 5, "a": np.arange(20.0), "b": 20 - np.arange(20.0) * 0.5, "y": np.arange(20.0) ** 0.5})
    inference = infer_columns(frame, targets=["y"])
    assert {i.name: i.role for i in inference.inputs}["sg"] == "categorical"
    assert inference.fraction_groups == []


def test_init_proposes_the_mixture_on_a_new_table(mixture_csv, tmp_path):
    campaign = Campaign.from_csv(tmp_path / "mix", mixture_csv, ["solubility:max"])
    (group,) = campaign.spec.fraction_groups
    assert group.molecules == ["SMILES1", "SMILES2"]
    assert {i.name for i in campaign.spec.inputs} == {"SMILES1", "SMILES2", "Solvent1_volFraction", "Solvent2_volFraction"}
    assert pd.read_csv(mixture_csv)["SMILES1"].nunique() > len(SOLVENTS)  # stray spaces
    assert campaign.labelled_data()["SMILES1"].nunique() == len(SOLVENTS)


def mixture_campaign(path, tmp_path, **spec_overrides):
    spec = CampaignSpec(
        name="mix",
        data=DataSpec(sources=[DataSource(path=str(path))], ignore=["Solvent1", "Solvent2"]),
        inputs=[InputSpec(name="SMILES1", role="smiles"), InputSpec(name="Solvent1_volFraction"), InputSpec(name="SMILES2", role="smiles"), InputSpec(name="Solvent2_volFraction")],
        fraction_groups=[FractionGroup(name="solvent", columns=["Solvent1_volFraction", "Solvent2_volFraction"], molecules=["SMILES1", "SMILES2"])],
        targets=[TargetSpec(name="solubility")],
        **spec_overrides,
    )
    return Campaign.create(tmp_path / "camp", spec)


def test_invalid_smiles_names_file_row_column_and_reason(mixture_csv, tmp_path):
    campaign = mixture_campaign(mixture_csv, tmp_path)
    bad = tmp_path / "obs.csv"
    bad.write_text("SMILES1,Solvent1_volFraction,SMILES2,Solvent2_volFraction,solubility\nCCO,0.5,C1CC,0.5,4.2\n")
    with pytest.raises(DataValidationError, match=re.escape("obs.csv: column 'SMILES2' has invalid SMILES at line 2 ('C1CC': SMILES parse error: unclosed ring for input: 'C1CC')")):
        campaign.observe(bad)
    frame = pd.read_csv(mixture_csv)
    frame.loc[4, "SMILES1"] = "C(C)(C)(C)(C)C"
    broken = tmp_path / "broken.csv"
    frame.to_csv(broken, index=False)
    with pytest.raises(DataValidationError, match=r"broken.csv: column 'SMILES1' has invalid SMILES at line 6 \('C\(C\)\(C\)\(C\)\(C\)C': Explicit valence"):
        mixture_campaign(broken, tmp_path / "other")


def test_fraction_rows_off_their_total_are_reported(mixture_csv, tmp_path):
    frame = pd.read_csv(mixture_csv)
    frame.loc[[3, 8], "Solvent2_volFraction"] = 0.5
    path = tmp_path / "off.csv"
    frame.to_csv(path, index=False)
    campaign = mixture_campaign(path, tmp_path)
    warnings = [w for w in campaign.source_table().warnings if "should sum to 1.0" in w]
    assert len(warnings) == 1 and "line 5" in warnings[0] and "line 10" in warnings[0]


def test_spec_checks_the_molecule_pairing():
    with pytest.raises(ValueError, match="1 molecule column"):
        CampaignSpec(name="x", inputs=[InputSpec(name="a"), InputSpec(name="b"), InputSpec(name="s", role="smiles")], fraction_groups=[FractionGroup(name="g", columns=["a", "b"], molecules=["s"])], targets=[TargetSpec(name="y")])
    with pytest.raises(ValueError, match="must be inputs with role smiles"):
        CampaignSpec(name="x", inputs=[InputSpec(name="a"), InputSpec(name="b"), InputSpec(name="s", role="categorical"), InputSpec(name="t", role="smiles")], fraction_groups=[FractionGroup(name="g", columns=["a", "b"], molecules=["s", "t"])], targets=[TargetSpec(name="y")])


@pytest.mark.slow
def test_suggest_from_a_pool_of_new_solvents(mixture_csv, tmp_path):
    from planner.steps._molecules import mixture_grid

    pool, problems = mixture_grid({"THF": "C1CCOC1", "sulfolane": "O=S1(=O)CCCC1", "DME": "COCCOC", "bad": "C1CC"}, smiles_columns=["SMILES1", "SMILES2"], fraction_columns=["Solvent1_volFraction", "Solvent2_volFraction"], step=0.25)
    assert len(problems) == 1
    pool.loc[len(pool)] = {"SMILES1": "CCC1", "Solvent1_volFraction": 0.5, "SMILES2": "CCO", "Solvent2_volFraction": 0.5}
    pool.to_csv(tmp_path / "pool.csv", index=False)
    from planner.spec import DesignSpace

    campaign = mixture_campaign(mixture_csv, tmp_path, design_space=DesignSpace(pool=str(tmp_path / "pool.csv")))
    with pytest.warns(Warning, match=r"pool.csv: column 'SMILES1' has invalid SMILES at line 14 \('CCC1'.*unclosed ring.*1 row\(s\) left out"):
        logged, meta = campaign.suggest(3)
    assert len(logged) == 3
    new = {"C1CCOC1", "O=S1(=O)CCCC1"}
    assert all(set(r) & new for r in logged[["SMILES1", "SMILES2"]].astype(str).itertuples(index=False))  # never measured
    np.testing.assert_allclose(logged[["Solvent1_volFraction", "Solvent2_volFraction"]].sum(axis=1), 1.0)
    assert "CCC1" not in set(logged["SMILES1"])
    assert "minmax kernel" in meta["model"]  # the GP's kernel for molecules (benchmarks/molecules)
