"""Calibrated intervals and flags in `planner predict` and `planner suggest`; bounds from `init`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main


@pytest.fixture(scope="module")
def llzo_run(datasets_dir, tmp_path_factory):
    """An LLZO campaign after a 4-trial `planner run` (real search, real sqlite storage)."""
    tmp = tmp_path_factory.mktemp("llzo_cal")
    csv = datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv"
    campaign = Campaign.from_csv(tmp / "llzo", csv, ["log_cond:max"], search_space="fast", seed=7)
    assert main(["run", str(campaign.directory), "--trials", "4"]) == 0
    return campaign


def test_predict_writes_calibrated_intervals_and_flags(llzo_run, tmp_path, capsys):
    campaign = llzo_run
    directory = campaign.directory
    model = directory / "models" / "log_cond"
    assert (model / "oof.csv").is_file() and (model / "domain.json").is_file()
    rows = campaign.labelled_data().sample(8, random_state=0)[campaign.spec.input_names].reset_index(drop=True)
    # The new user: li_sto far outside 5-7.4 and a dopant nobody measured.
    wild = rows.iloc[[0]].copy()
    wild["li_sto"] = 9.0
    dopant = next(i.name for i in campaign.spec.inputs if i.role == "categorical")
    wild[dopant] = "Unobtainium"
    pd.concat([rows, wild], ignore_index=True).to_csv(tmp_path / "new.csv", index=False)
    out_csv = tmp_path / "pred.csv"
    assert main(["predict", str(directory), str(tmp_path / "new.csv"), "--interval", "0.8", "--interval", "0.95", "-o", str(out_csv)]) == 0
    p = pd.read_csv(out_csv)
    for col in ("lower_80", "upper_80", "lower_95", "upper_95", "interval_calibrated", "in_domain", "domain_reason", "out_of_range", "note"):
        assert f"log_cond_{col}" in p.columns, col
    assert (p["log_cond_lower_95"] <= p["log_cond_lower_80"]).all() and (p["log_cond_lower_80"] <= p["log_cond_prediction"]).all()
    assert (p["log_cond_prediction"] <= p["log_cond_upper_80"]).all() and (p["log_cond_upper_80"] <= p["log_cond_upper_95"]).all()
    assert p["log_cond_interval_calibrated"].all()
    assert not p["log_cond_in_domain"].iloc[-1]
    reason = p["log_cond_domain_reason"].iloc[-1]
    assert "li_sto=9 above the training range" in reason and "Unobtainium" in reason
    # One level: unsuffixed columns; the default level is 0.9.
    assert main(["predict", str(directory), str(tmp_path / "new.csv"), "-o", str(out_csv)]) == 0
    assert {"log_cond_lower", "log_cond_upper"} <= set(pd.read_csv(out_csv).columns)


@pytest.mark.parametrize("level", ["1.5", "0", "1"])
def test_predict_refuses_a_level_outside_zero_one(llzo_run, tmp_path, capsys, level):
    llzo_run.labelled_data().head(2)[llzo_run.spec.input_names].to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(llzo_run.directory), str(tmp_path / "new.csv"), "--interval", level]) == 2
    assert "strictly between 0 and 1" in capsys.readouterr().err


def test_predict_with_a_model_saved_before_calibration(llzo_run, tmp_path, capsys):
    import shutil

    directory = tmp_path / "old"
    shutil.copytree(llzo_run.directory, directory)
    model = directory / "models" / "log_cond"
    spec = json.loads((model / "pipeline.json").read_text())
    for key in ("calibration", "domain", "target_range"):
        spec.pop(key, None)
    (model / "pipeline.json").write_text(json.dumps({**spec, "version": 1}))
    (model / "oof.csv").unlink()
    (model / "domain.json").unlink()
    llzo_run.labelled_data().head(3)[llzo_run.spec.input_names].to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(directory), str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "run `planner run" in err and "again" in err
    p = pd.read_csv(tmp_path / "p.csv")
    assert p["log_cond_prediction"].notna().all() and not p["log_cond_interval_calibrated"].any()


@pytest.mark.slow
def test_too_few_rows_give_uncalibrated_intervals_and_bounds_clip(campaign, tmp_path, capsys):
    """10 labelled rows: intervals are written, marked uncalibrated with the reason; lce >= 0 holds."""
    assert main(["run", str(campaign.directory), "--trials", "2"]) == 0
    assert "intervals: calibrated from 10 out-of-fold predictions" in capsys.readouterr().out
    new = campaign.labelled_data()[campaign.spec.input_names].head(4)
    new.loc[0, "temp_c"] = -500.0  # a linear model may extrapolate below the declared bound
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(campaign.directory), str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    p = pd.read_csv(tmp_path / "p.csv")
    assert not p["lce_interval_calibrated"].any()
    assert p["lce_note"].str.contains("uncalibrated: only 10 out-of-fold residuals").all()
    assert (p["lce_prediction"] >= 0).all() and (p["lce_lower"] >= 0).all() and "lce_clipped" in p
    assert not p["lce_in_domain"].iloc[0] and "temp_c=-500 below the training range" in p["lce_domain_reason"].iloc[0]


def test_init_guesses_obvious_bounds_as_commented_values(tmp_path):
    frame = pd.DataFrame(
        {"temp_c": [10, 22, 31, 4, 55, 61], "band_gap": [0.5, 1.5, 2.0, 0.0, 3.1, 2.2], "log_cond": [-3, -4, -3, -5, -2, -3], "capacity_mAh": [120, 130, 90, 110, 150, 100]}
    )
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["init", str(tmp_path / "c"), "--data", str(tmp_path / "d.csv"), "--target", "band_gap:max", "--target", "log_cond:max", "--target", "capacity_mAh:max"]) == 0
    text = (tmp_path / "c" / "campaign.yaml").read_text()
    assert "lower: 0.0  # guessed: the name says a band gap" in text and "lower: 0.0  # guessed: the name says a capacity" in text
    bounds = {t.name: t.lower for t in Campaign.load(tmp_path / "c").spec.targets}
    assert bounds == {"band_gap": 0.0, "log_cond": None, "capacity_mAh": 0.0}


def test_suggestions_are_calibrated_clipped_and_flagged(datasets_dir, tmp_path, capsys):
    """AutoAM print settings, 12 measured: a declared upper bound below the best score clips means and intervals."""
    from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, InputSpec, TargetSpec

    inputs = ["Prime Delay", "Print Speed", "X Offset Correction", "Y Offset Correction"]
    full = pd.read_csv(datasets_dir / "liang2021_pvlab" / "AutoAM_dataset.csv")
    measured = full.sample(12, random_state=0)
    measured.to_csv(tmp_path / "measured.csv", index=False)
    pool = full[inputs].copy()
    pool.loc[len(pool)] = {c: full[c].max() * 3 for c in inputs}  # one candidate far outside the data
    pool.to_csv(tmp_path / "pool.csv", index=False)
    cap = float(measured["Score"].min())  # below most predicted means
    spec = CampaignSpec(
        name="autoam",
        data=DataSpec(sources=[DataSource(path=str(tmp_path / "measured.csv"), label="lab")]),
        inputs=[InputSpec(name=c) for c in inputs],
        targets=[TargetSpec(name="Score", direction="max", upper=cap)],
        design_space=DesignSpace(pool=str(tmp_path / "pool.csv")),
    )
    campaign = Campaign.create(tmp_path / "camp", spec)
    assert main(["suggest", str(campaign.directory), "-n", "4", "--strategy", "max_variance", "-o", str(tmp_path / "s.csv")]) == 0
    s = pd.read_csv(tmp_path / "s.csv")
    assert {"Score_lower", "Score_upper", "Score_clipped", "Score_out_of_range", "in_domain", "domain_reason"} <= set(s.columns)
    assert (s["Score_mean"] <= cap + 1e-9).all() and (s["Score_upper"] <= cap + 1e-9).all() and s["Score_clipped"].any()
    assert (s["Score_lower"] <= s["Score_mean"]).all()
    # A clipped row's reason, which quotes the model's value, says that the table shows the bound.
    assert s.loc[s["Score_clipped"], "reason"].str.contains(f"lies beyond the declared bound {cap:g}, so Score_mean shows").all()
    assert not s.loc[~s["Score_clipped"], "reason"].str.contains("declared bound").any()
    far = s[s[inputs[0]] == full[inputs[0]].max() * 3]
    assert len(far) == 1 and not far["in_domain"].iloc[0]  # max variance picks the far candidate
    assert "clipped to the declared bounds" in capsys.readouterr().out


@pytest.mark.slow
def test_report_shows_suggestion_outcomes_against_their_calibrated_intervals(datasets_dir, tmp_path, capsys):
    """suggest (calibrated by default) -> measure -> run -> report: coverage of the logged intervals."""
    from planner.report import build_report
    from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, InputSpec, TargetSpec

    inputs = ["Prime Delay", "Print Speed", "X Offset Correction", "Y Offset Correction"]
    full = pd.read_csv(datasets_dir / "liang2021_pvlab" / "AutoAM_dataset.csv")
    full.sample(30, random_state=1).to_csv(tmp_path / "measured.csv", index=False)
    full[inputs].to_csv(tmp_path / "pool.csv", index=False)
    spec = CampaignSpec(
        name="autoam",
        data=DataSpec(sources=[DataSource(path=str(tmp_path / "measured.csv"), label="lab")]),
        inputs=[InputSpec(name=c) for c in inputs],
        targets=[TargetSpec(name="Score", direction="max", lower=0.0)],
        design_space=DesignSpace(pool=str(tmp_path / "pool.csv")),
        search_space="fast",
    )
    campaign = Campaign.create(tmp_path / "camp", spec)
    assert main(["suggest", str(campaign.directory), "-n", "6", "-o", str(tmp_path / "s.csv")]) == 0
    s = pd.read_csv(tmp_path / "s.csv")
    truth = s[["suggestion_id", *inputs]].merge(full, on=inputs)[["suggestion_id", *inputs, "Score"]]
    truth.to_csv(tmp_path / "results.csv", index=False)
    assert main(["observe", str(campaign.directory), str(tmp_path / "results.csv")]) == 0
    assert main(["run", str(campaign.directory), "--trials", "3"]) == 0
    capsys.readouterr()
    result = build_report(Campaign.load(campaign.directory), allow_recompute=False)
    text = result.html_path.read_text(encoding="utf-8")
    assert f"Suggestions measured since: {len(truth)} of them" in text and "level 90%" in text
    assert "Logged suggestions: 6, of which" in text and "Applicability domain: a row is flagged" in text
    assert "cross-conformally on its 36 out-of-fold predictions" in text
