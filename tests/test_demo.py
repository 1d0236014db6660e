"""The demo campaign against the real PyBaMM simulator, real search, real BoTorch suggestions."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main
from planner.demo import run_demo


def test_demo_closed_loop(tmp_path):
    lines: list[str] = []
    campaign = run_demo(tmp_path / "demo", n_initial=6, rounds=2, batch_size=2, n_trials=0, seed=3, echo=lines.append)
    reloaded = Campaign.load(tmp_path / "demo")
    observed = reloaded.observations()
    failed_path = tmp_path / "demo" / "failed_experiments.csv"
    n_failed = len(pd.read_csv(failed_path)) if failed_path.exists() else 0
    assert len(observed) + n_failed == 6 + 2 * 2 and len(observed) >= 8
    assert set(observed["_source"]) == {"simlab"}
    assert observed["energy_density_wh_per_l"].between(20, 1500).all()  # plausible stack Wh/L
    assert (observed["temp_rise_k"] >= 0).all()
    # The C-rate is the application's requirement, not a design choice: no trivial optimum at the
    # slowest rate; at 2C more energy costs more heat (the objectives conflict), and both are >= 0.
    assert "c_rate" not in campaign.spec.input_names
    assert [t.lower for t in campaign.spec.targets] == [0.0, 0.0]
    assert observed[["energy_density_wh_per_l", "temp_rise_k"]].corr().iloc[0, 1] > 0.3
    for name, (low, high) in campaign.spec.design_space.ranges.items():
        assert observed[name].between(low, high).all()
    # Every suggestion was measured and linked back through its suggestion_id.
    log = reloaded.suggestions.read()
    assert len(log) == 4 and set(log["_status"]) == {"observed"}
    assert set(log["_observed_obs_id"].astype(int)) <= set(observed["_obs_id"])
    assert (tmp_path / "demo" / "reports" / "report.html").exists()
    assert any("round 0: simulated 6 designs" in line for line in lines)
    assert (tmp_path / "demo" / "measurements" / "round_02.csv").exists()


@pytest.mark.slow
def test_demo_cli_with_search(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "d"), "--n-initial", "8", "--rounds", "1", "--batch", "3", "--trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "AutoML search" in out and "top pipelines" in out and "Open " in out
    status = Campaign.load(tmp_path / "d").status()
    # 3 trials per target, then 2 more per target in a new study on all rows (the round made them stale)
    assert status.n_trials_complete + status.n_trials_failed == 10 and status.n_observed >= 10
    assert "refresh the models on all" in out and not any(m["stale"] for m in status.models)


def test_demo_refuses_to_replace_a_non_campaign_directory(tmp_path, capsys):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("do not delete")
    assert main(["demo", "--dir", str(tmp_path / "precious"), "--force"]) == 2
    assert "not a planner campaign" in capsys.readouterr().err
    assert (tmp_path / "precious" / "thesis.tex").exists()
    assert main(["demo", "--dir", str(tmp_path / "precious")]) == 2
    assert "--force" in capsys.readouterr().err
