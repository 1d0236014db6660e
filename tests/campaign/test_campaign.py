from __future__ import annotations

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.exceptions import CampaignExistsError, CampaignNotFoundError, DataValidationError, DesignSpaceWarning


def new_rows(**overrides):
    row = {"sample_id": "N01", "ec_frac": 0.35, "salt": "LiFSI", "temp_c": 25, "lce": 2.4}
    row.update(overrides)
    return pd.DataFrame([row])


def test_lifecycle_observe_status_reload(campaign, tmp_path):
    assert campaign.status().n_rows == 10
    report = campaign.observe(new_rows())
    assert (report.n_added, report.n_duplicates) == (1, 0)
    again = campaign.observe(new_rows())
    assert (again.n_added, again.n_duplicates) == (0, 1)
    reloaded = Campaign.load(campaign.directory)
    status = reloaded.status()
    assert (status.n_source_rows, status.n_observed) == (10, 1)
    assert status.targets[0].best == pytest.approx(2.4)
    assert status.targets[0].best_row == "sample_id=N01"
    assert status.last_activity is not None
    stored = reloaded.observations()
    assert stored.loc[0, "_source"] == "api" and stored.loc[0, "_obs_id"] == 1
    assert pd.to_datetime(stored["_observed_at"]).notna().all()


def test_rows_already_in_a_source_are_duplicates(campaign, lab_csv):
    report = campaign.observe(lab_csv)
    assert (report.n_added, report.n_duplicates) == (0, 10)
    assert not campaign.store.path.exists()


def test_observe_from_csv_keeps_file_and_line(campaign, tmp_path):
    path = tmp_path / "new.csv"
    pd.concat([new_rows(), new_rows(sample_id="N02", lce=1.0)]).to_csv(path, index=False)
    campaign.observe(path, source="cycler-7")
    stored = campaign.observations()
    assert list(stored["_line"]) == [2, 3]
    assert set(stored["_source"]) == {"cycler-7"} and stored["_file"].iloc[0] == str(path)


def test_same_id_different_values_is_refused(campaign, snapshot):
    before = snapshot(campaign.directory)
    with pytest.raises(DataValidationError, match=r"id\(s\) already stored with different values.*'S01'"):
        campaign.observe(new_rows(sample_id="S01", lce=9.9))
    assert snapshot(campaign.directory) == before


def test_skip_invalid_stores_valid_rows_and_reports_others(campaign):
    rows = pd.concat([new_rows(), new_rows(sample_id="N02", lce="n/a?"), new_rows(sample_id="N03", lce=float("inf"))])
    with pytest.raises(DataValidationError, match="Pass --skip-invalid"):
        campaign.observe(rows)
    report = campaign.observe(rows, skip_invalid=True)
    assert report.n_added == 1 and len(report.rejected) == 2
    assert list(campaign.observations()["sample_id"]) == ["N01"]


def test_outside_design_space_warns_and_keeps(campaign):
    with pytest.warns(DesignSpaceWarning, match=r"'temp_c' outside the design space \[0.0, 80.0\]"):
        report = campaign.observe(new_rows(temp_c=95))
    assert report.n_added == 1


def test_target_outside_physical_bounds_is_an_error(campaign):
    with pytest.raises(DataValidationError, match=r"outside its declared range \[0.0, None\]"):
        campaign.observe(new_rows(lce=-3))


def test_create_refuses_to_overwrite(campaign):
    with pytest.raises(CampaignExistsError, match="never overwritten"):
        Campaign.create(campaign.directory, campaign.spec)


def test_load_missing_campaign(tmp_path):
    with pytest.raises(CampaignNotFoundError, match="planner init"):
        Campaign.load(tmp_path / "nowhere")


def test_init_liverpool_infers_roles_and_leaks(datasets_dir, tmp_path):
    csv = datasets_dir / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv"
    campaign = Campaign.from_csv(tmp_path / "liv", csv, ["log_target:max"], group_column="composition")
    spec = campaign.spec
    roles = {i.name: i.role for i in spec.inputs}
    assert roles == {"composition": "composition", "temperature": "numeric", "family": "categorical", "ChemicalFamily": "categorical"}
    # ID is a label, source holds DOIs, `target` is the conductivity itself (would leak log10 of it).
    assert set(spec.data.ignore) == {"ID", "source", "target"}
    assert spec.task == "regression" and spec.data.group_column == "composition"
    assert spec.search_space == "default"  # 820 rows
    table = campaign.source_table().frame
    assert len(table) == 820
    # Independent check: 489 distinct compositions (PROVENANCE.md), measured at several temperatures.
    assert table["composition"].nunique() == 489
    text = (tmp_path / "liv" / "campaign.yaml").read_text()
    assert "../" in text or str(csv) in text  # referenced, not copied
    assert [p.name for p in (tmp_path / "liv").iterdir()] == ["campaign.yaml"]


def test_init_llzo_detects_derived_targets(datasets_dir, tmp_path):
    csv = datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv"
    campaign = Campaign.from_csv(tmp_path / "llzo", csv, ["log_cond:max"])
    assert {"conductivity", "good_cond", "source"} <= set(campaign.spec.data.ignore)
    assert campaign.spec.search_space == "small_data"
    status = campaign.status()
    assert status.n_rows == 176
    expected = pd.read_csv(csv).dropna(how="all")["log_cond"].max()
    assert status.targets[0].best == pytest.approx(expected)


def test_init_classification_is_inferred(datasets_dir, tmp_path):
    csv = datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv"
    campaign = Campaign.from_csv(tmp_path / "cls", csv, ["good_cond:max"])
    assert campaign.spec.task == "classification"
    # log_cond and conductivity determine the label: both must be left out.
    assert {"log_cond", "conductivity"} <= set(campaign.spec.data.ignore)
    assert campaign.status().targets[0].classes == {"0": 88, "1": 88}
