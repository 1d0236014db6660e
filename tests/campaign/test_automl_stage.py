"""`planner run / leaderboard / predict` on a real campaign with a real Optuna file storage."""

from __future__ import annotations

import json

import optuna
import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main


@pytest.fixture
def llzo_campaign(datasets_dir, tmp_path):
    csv = datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv"
    return Campaign.from_csv(tmp_path / "llzo", csv, ["log_cond:max"], search_space="fast", seed=7)


def test_run_resume_leaderboard_predict(llzo_campaign, capsys, tmp_path):
    directory = llzo_campaign.directory
    assert main(["run", str(directory), "--trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "[log_cond] trial    0" in out and "refit on all rows" in out
    storage = f"sqlite:///{directory / 'optuna.db'}"
    study = optuna.load_study(study_name="automl-log_cond", storage=storage)
    assert len(study.trials) == 3
    # Re-running continues the same study.
    assert main(["run", str(directory), "--trials", "2"]) == 0
    capsys.readouterr()
    study = optuna.load_study(study_name="automl-log_cond", storage=storage)
    assert len(study.trials) == 5
    assert Campaign.load(directory).status().n_trials_complete + Campaign.load(directory).status().n_trials_failed == 5
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete, "at least one pipeline must finish on LLZO"
    # Each trial records which (encoded) features its selection step kept, for the report.
    numeric_inputs = {i.name for i in llzo_campaign.spec.inputs if i.role == "numeric"}
    for trial in complete:
        kept = trial.user_attrs["selected_features"]
        assert kept and all(isinstance(k, str) for k in kept)
        if trial.params.get("selector") == "none":  # nothing removed: every numeric input is there
            assert numeric_inputs <= set(kept), (trial.number, kept)

    assert main(["leaderboard", str(directory), "--format", "json", "--top", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert 1 <= len(rows) <= 3 and rows[0]["rank"] == 1
    assert rows[0]["mean"] == pytest.approx(min(t.value for t in complete))  # MAE: lower is better

    # Ground truth rows in, predictions with uncertainty out.
    sample = llzo_campaign.labelled_data().head(6)[llzo_campaign.spec.input_names]
    new = tmp_path / "new.csv"
    sample.to_csv(new, index=False)
    out_csv = tmp_path / "pred.csv"
    assert main(["predict", str(directory), str(new), "--out", str(out_csv)]) == 0
    predictions = pd.read_csv(out_csv)
    assert len(predictions) == 6 and predictions["log_cond_prediction"].between(-9, -1).all()

    # The report is built from what is stored; SHAP values are available programmatically too.
    assert main(["report", str(directory), "--no-recompute"]) == 0
    out = capsys.readouterr().out
    html = (directory / "reports" / "report.html").read_text()
    assert "report.html" in out and "Leaderboard" in html and "plotly" in html.lower()
    explanation = Campaign.load(directory).explain(max_samples=40)
    assert explanation.values.shape[0] == 40 and len(explanation.importance()) == explanation.values.shape[1]


def test_predict_without_model_and_with_missing_columns(llzo_campaign, capsys, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("li_sto\n6.5\n")
    assert main(["predict", str(llzo_campaign.directory), str(new)]) == 2
    assert "missing input column(s)" in capsys.readouterr().err
    llzo_campaign.labelled_data().head(2)[llzo_campaign.spec.input_names].to_csv(new, index=False)
    assert main(["predict", str(llzo_campaign.directory), str(new)]) == 2
    assert "no saved model" in capsys.readouterr().err
    assert main(["leaderboard", str(llzo_campaign.directory)]) == 2
    assert "run `planner run" in capsys.readouterr().err


@pytest.mark.slow
def test_run_nested_gives_the_honest_estimate(datasets_dir, tmp_path, capsys):
    csv = datasets_dir / "kim2023_pnas_electrolyte_ce" / "CE_data_with_names.csv"
    Campaign.from_csv(tmp_path / "kim", csv, ["LCE:max"], search_space="fast")
    assert main(["run", str(tmp_path / "kim"), "--nested", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "nested CV mae" in out and "over 5 outer folds" in out
    # The outer test folds are never seen by the inner searches: those studies live apart.
    names = {s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'kim' / 'optuna.db'}")}
    assert names and all(n.startswith("nested-LCE") for n in names)


def test_run_ensemble_saves_predicts_explains_and_reports(llzo_campaign, capsys, tmp_path):
    directory = llzo_campaign.directory
    assert main(["run", str(directory), "--trials", "8"]) == 0  # the ensemble is the default
    out = capsys.readouterr().out
    spec = json.loads((directory / "models" / "log_cond" / "pipeline.json").read_text())
    assert "ensemble" in spec
    assert ("selected ensemble refit on all rows" in out) == (spec["ensemble"] is not None)
    if spec["ensemble"] is not None:  # several trials averaged
        assert spec["pipeline"].startswith("ensemble[") and abs(sum(spec["ensemble"]["weights"]) - 1) < 1e-6
        assert spec["ensemble"]["oof_score"] <= spec["ensemble"]["best_single_oof_score"]
    sample = llzo_campaign.labelled_data().head(5)[llzo_campaign.spec.input_names]
    new = tmp_path / "new.csv"
    sample.to_csv(new, index=False)
    assert main(["predict", str(directory), str(new), "--out", str(tmp_path / "p.csv")]) == 0
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert predictions["log_cond_prediction"].notna().all() and (predictions["log_cond_std"] >= 0).all()
    shap = Campaign.load(directory).explain("log_cond", max_samples=30)
    assert shap.values.shape[1] == len(shap.values.columns) and len(shap.values) > 0
    assert main(["report", str(directory), "--no-recompute"]) == 0
    html = (directory / "reports" / "report.html").read_text(encoding="utf-8")
    if spec["ensemble"] is not None:
        assert "ensemble selection of trials #" in html and "ensemble out-of-fold mae" in html


def test_run_single_saves_the_best_trial(llzo_campaign, capsys):
    directory = llzo_campaign.directory
    assert main(["run", str(directory), "--trials", "4", "--single"]) == 0
    assert "best pipeline refit on all rows" in capsys.readouterr().out
    spec = json.loads((directory / "models" / "log_cond" / "pipeline.json").read_text())
    study = optuna.load_study(study_name="automl-log_cond", storage=f"sqlite:///{directory / 'optuna.db'}")
    from planner.automl._final import best_trial

    # the best trial among those scored at the highest fidelity (all folds, all rows), unless a
    # lower-fidelity one beats all of those by more than its fold spread
    assert spec.get("ensemble") is None and spec["trial"] == best_trial(study).number
    chosen, done = study.trials[spec["trial"]], [t for t in study.trials if t.state.name == "COMPLETE"]
    top = max(t.user_attrs["fidelity"] for t in done)
    if chosen.user_attrs["fidelity"] < top:
        assert chosen.value + chosen.user_attrs["std"] < min(t.value for t in done if t.user_attrs["fidelity"] == top)
