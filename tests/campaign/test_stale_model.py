"""After `observe`, a saved model refit on fewer rows is called stale by status, predict and the
report; the next `run` re-scores the best pipelines on the current rows in a new study and refits."""

from __future__ import annotations

import json
import re

import numpy as np
import optuna
import pandas as pd
import pytest

from planner.cli import main


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


@pytest.mark.slow
def test_stale_model_is_named_and_run_catches_up(tmp_path, capsys):
    rng = np.random.default_rng(3)
    n = 30
    frame = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "x1": rng.uniform(0, 1, n), "x2": rng.uniform(0, 1, n)})
    frame["y"] = 3 * frame["x1"] - frame["x2"] + rng.normal(0, 0.05, n)
    frame.iloc[:20].to_csv(tmp_path / "data.csv", index=False)
    frame.iloc[20:].to_csv(tmp_path / "new.csv", index=False)
    camp = tmp_path / "camp"
    cli(capsys, "init", camp, "--data", tmp_path / "data.csv", "--target", "y:max", "--id", "sample_id")
    cli(capsys, "run", camp, "--trials", "4", "--single")
    out, _ = cli(capsys, "status", camp)
    assert "model         y: refit on 20 rows, up to date" in out

    cli(capsys, "observe", camp, tmp_path / "new.csv")
    out, _ = cli(capsys, "status", camp)
    assert "model         y: refit on 20 rows, STALE: 10 observation(s) arrived after the refit" in out
    assert "10 labelled observation(s) arrived since and are not in it" in out
    status = json.loads(cli(capsys, "status", camp, "--json")[0])
    assert status["models"] == [{"target": "y", "has_model": True, "n_train_rows": 20, "n_new_observations": 10,
                                 "refit_at": status["models"][0]["refit_at"], "stale": True}]
    _, err = cli(capsys, "predict", camp, tmp_path / "new.csv")
    assert "the model for 'y' was refit on 20 rows" in err and "planner run" in err
    from planner.campaign import Campaign
    from planner.report import build_report

    html = build_report(Campaign.load(camp), max_shap_samples=20).html_path.read_text()
    assert "STALE MODEL" in html and "10 labelled observation(s) arrived since" in html

    _, err = cli(capsys, "run", camp, "--trials", "3", "--single")
    assert re.search(r"continues in study 'automl-y@v2' on the current rows, re-scoring the [2-4] best pipeline\(s\)", err), err
    storage = f"sqlite:///{camp / 'optuna.db'}"
    assert sorted(optuna.get_all_study_names(storage)) == ["automl-y", "automl-y@v2"]
    new = optuna.load_study(study_name="automl-y@v2", storage=storage)
    assert [t.user_attrs.get("source") for t in new.trials[:3]] == ["rescored"] * 3
    old = optuna.load_study(study_name="automl-y", storage=storage).get_trials(deepcopy=False)
    assert sum(t.state != optuna.trial.TrialState.WAITING for t in old) == 4  # kept, untouched
    out, _ = cli(capsys, "status", camp)
    assert "model         y: refit on 30 rows, up to date" in out
    out, _ = cli(capsys, "leaderboard", camp)
    assert "rescored" in out or len(out.splitlines()) > 2
