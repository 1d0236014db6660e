"""The demo campaign against the real PyBaMM simulator."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.cli import main
from planner.demo import run_demo


def test_demo_creates_a_campaign_with_simulated_observations(tmp_path):
    lines: list[str] = []
    campaign = run_demo(tmp_path / "demo", n_initial=6, seed=3, echo=lines.append)
    reloaded = Campaign.load(tmp_path / "demo")
    observed = reloaded.observations()
    failed_path = tmp_path / "demo" / "failed_experiments.csv"
    n_failed = len(pd.read_csv(failed_path)) if failed_path.exists() else 0
    assert len(observed) + n_failed == 6 and len(observed) >= 4
    assert set(observed["_source"]) == {"simlab"}
    energy = observed["energy_density_wh_per_l"]
    assert energy.between(20, 1500).all()  # physically plausible stack energy densities
    assert (observed["temp_rise_k"] >= 0).all()
    for name, (low, high) in campaign.spec.design_space.ranges.items():
        assert observed[name].between(low, high).all()
    assert any("round 0: simulated 6 designs" in line for line in lines)
    assert (tmp_path / "demo" / "measurements" / "round_00.csv").exists()


def test_demo_refuses_to_replace_a_non_campaign_directory(tmp_path, capsys):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("do not delete")
    assert main(["demo", "--dir", str(tmp_path / "precious"), "--force"]) == 2
    assert "not a planner campaign" in capsys.readouterr().err
    assert (tmp_path / "precious" / "thesis.tex").exists()
    assert main(["demo", "--dir", str(tmp_path / "precious")]) == 2
    assert "--force" in capsys.readouterr().err
