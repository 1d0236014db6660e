"""`planner run` and `planner backtest` with --executor ray (a real local Ray instance)."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from planner.cli import main


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def campaign(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(0, 1, 40), rng.uniform(0, 1, 40)
    csv = tmp_path / "data.csv"
    pd.DataFrame({"sample_id": [f"s{i}" for i in range(40)], "x1": x1, "x2": x2, "y": x1 - (x2 - 0.3) ** 2}).to_csv(csv, index=False)
    code, _, err = run_cli(capsys, "init", tmp_path / "camp", "--data", csv, "--target", "y:max", "--id", "sample_id")
    assert code == 0, err
    spec_file = tmp_path / "camp" / "campaign.yaml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["search_space"] = "fast"
    spec_file.write_text(yaml.safe_dump(spec))
    return tmp_path / "camp"


def test_address_without_ray_is_refused(capsys, campaign):
    code, _, err = run_cli(capsys, "run", campaign, "--trials", "1", "--address", "auto")
    assert code == 2 and "needs the ray executor" in err


@pytest.mark.slow
def test_planner_run_on_ray_twice_resumes_the_study(capsys, campaign):
    ray = pytest.importorskip("ray")
    for _ in range(2):
        code, out, err = run_cli(capsys, "run", campaign, "--trials", "3", "--executor", "ray", "--workers", "2")
        assert code == 0, err
        assert not ray.is_initialized(), "planner run must stop the Ray instance it started"
    study = optuna.load_study(study_name=optuna.get_all_study_names(f"sqlite:///{campaign / 'optuna.db'}")[0], storage=f"sqlite:///{campaign / 'optuna.db'}")
    assert len(study.trials) == 6
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    # a pipeline may fail on its own (its reason is recorded); none failed in the executor
    reasons = [str(t.user_attrs.get("failure_reason")) for t in study.trials if t.state.name == "FAIL"]
    assert not [r for r in reasons if r.startswith(("worker error", "interrupted"))], reasons
    assert sum(t.state.name == "COMPLETE" for t in study.trials) >= 3


@pytest.mark.slow
def test_planner_backtest_on_ray(capsys, campaign):
    code, out, err = run_cli(
        capsys, "backtest", campaign, "--strategies", "random", "--seeds", "2", "--budget", "6", "--executor", "ray", "--jobs", "2"
    )
    assert code == 0, err
    assert list((campaign / "backtests").iterdir())
