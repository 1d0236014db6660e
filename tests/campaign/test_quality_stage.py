"""Multi-source campaigns: unit conversion, merging repeated measurements, `planner quality`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main
from planner.spec import CampaignSpec, DataSource, DataSpec, InputSpec, MergeSpec, TargetSpec


@pytest.fixture
def two_source_campaign(tmp_path):
    lab = pd.DataFrame(
        {
            "composition": ["Li7La3Zr2O12", "Li6.4La3Zr1.4Ta0.6O12", "Li3PS4", "Li10GeP2S12"],
            "temp_c": [25, 25, 25, 25],
            "sigma": [2e-4, 1e-3, 1.6e-4, 1.2e-2],
        }
    )
    # The literature table reports mS/cm and repeats two materials: one agrees, one does not.
    paper = pd.DataFrame(
        {
            "formula": ["Li7La3Zr2O12", "Li3PS4", "Li7P3S11"],
            "temp_c": [25, 25, 25],
            "sigma_mS": [0.2, 0.5, 17.0],
        }
    )
    lab.to_csv(tmp_path / "lab.csv", index=False)
    paper.to_csv(tmp_path / "paper.csv", index=False)
    spec = CampaignSpec(
        name="electrolytes",
        data=DataSpec(
            sources=[
                DataSource(path=str(tmp_path / "lab.csv"), label="lab"),
                DataSource(
                    path=str(tmp_path / "paper.csv"),
                    label="paper",
                    rename={"formula": "composition", "sigma_mS": "sigma"},
                    units={"sigma": "mS/cm"},
                ),
            ],
            merge=MergeSpec(strategy="trust", composition_column="composition", condition_columns=["temp_c"], trust_order=["lab", "paper"]),
        ),
        inputs=[InputSpec(name="composition", role="composition"), InputSpec(name="temp_c", unit="degC")],
        targets=[TargetSpec(name="sigma", direction="max", unit="S/cm", lower=0.0)],
    )
    return Campaign.create(tmp_path / "camp", spec)


def test_units_are_converted_to_the_campaign_unit(two_source_campaign):
    table = two_source_campaign.source_table()
    paper = table.frame[table.frame["_source"] == "paper"].set_index("composition")
    assert paper.loc["Li7P3S11", "sigma"] == pytest.approx(0.017)
    assert any("converted 'sigma' from mS/cm to S/cm" in n for n in table.notes)


def test_merge_reconciles_repeated_materials(two_source_campaign):
    merged, log = two_source_campaign.merged_data()
    assert len(merged) == 5  # 7 rows, two materials measured by both sources
    by_formula = merged.set_index("composition")
    assert by_formula.loc["Li3PS4", "sigma"] == pytest.approx(1.6e-4)  # trust the lab over the paper
    assert by_formula.loc["Li7La3Zr2O12", "_n_merged"] == 2
    assert len(two_source_campaign.labelled_data()) == 5


def test_quality_cli_reports_and_saves(two_source_campaign, capsys):
    directory = two_source_campaign.directory
    assert main(["quality", str(directory)]) == 0
    out = capsys.readouterr().out
    for section in ["ACCURACY", "CONSISTENCY", "VALIDITY", "COMPLETENESS", "TIMELINESS", "UNIQUENESS"]:
        assert section in out
    assert json.loads((directory / "quality" / "quality_report.json").read_text())
    issues = pd.read_csv(directory / "quality" / "quality_issues.csv")
    # Li3PS4 (lab line 4, paper line 3) differs 3x between sources after conversion; LLZO agrees.
    disagree = issues[issues["check"] == "entity_agreement"]
    assert set(disagree["row"]) == {"lab:4", "paper:3"}
    assert disagree["detail"].str.contains("2 source").all()


def test_merge_spec_errors():
    with pytest.raises(ValueError, match="max_spread"):
        MergeSpec(strategy="drop", key="id")
    with pytest.raises(ValueError, match="key .* composition_column"):
        MergeSpec(strategy="mean")
    with pytest.raises(ValueError, match="no unit for it"):
        CampaignSpec(
            name="x",
            data=DataSpec(sources=[DataSource(path="a.csv", units={"y": "mS/cm"})]),
            inputs=[InputSpec(name="x")],
            targets=[TargetSpec(name="y")],
        )


def test_quality_on_real_liverpool(datasets_dir, tmp_path, capsys):
    csv = datasets_dir / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv"
    Campaign.from_csv(tmp_path / "liv", csv, ["log_target:max"], group_column="composition")
    assert main(["quality", str(tmp_path / "liv")]) == 0
    out = capsys.readouterr().out
    assert "all 820 formulas in 'composition' parse" in out
    assert "ChemicalFamily: 321" in out  # 321 missing values, as in the file
