"""`planner run --timeout T` keeps its promise on a real campaign: ends on time, shows baselines,
reasons whole; a budget too small exits 2 naming the smallest useful one."""

from __future__ import annotations

import json
import time

import pytest

from planner.campaign import Campaign
from planner.cli import main


@pytest.fixture
def llzo_campaign(datasets_dir, tmp_path):
    csv = datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv"
    return Campaign.from_csv(tmp_path / "llzo", csv, ["log_cond:max"], search_space="default", seed=7)


@pytest.mark.slow
def test_run_with_a_timeout_ends_on_time_with_baselines_and_whole_reasons(llzo_campaign, capsys):
    directory = llzo_campaign.directory
    budget = 15
    started = time.monotonic()
    assert main(["run", str(directory), "--timeout", str(budget), "--trials", "1000"]) == 0
    wall = time.monotonic() - started
    out = capsys.readouterr().out
    assert wall <= 1.10 * budget, wall
    assert "baselines on the same folds (mae): mean " in out and "random_forest" in out
    spec = json.loads((directory / "models" / "log_cond" / "pipeline.json").read_text())
    assert spec["final"]["refit_s"] >= 0
    # the timed refit keeps what calibrated intervals need, and the campaign records the training
    model = directory / "models" / "log_cond"
    assert spec["calibration"]["source"] in ("trials", "recomputed"), spec["calibration"]
    assert (model / "oof.csv").is_file() and (model / "domain.json").is_file()
    assert (model / "trained_on.json").is_file()
    for line in out.splitlines():
        if " pruned " in line or " failed " in line:
            assert line.rstrip().endswith((")", ".", "done", "%)")) and "no reason was recorded" not in line, line
    assert main(["leaderboard", str(directory), "--failed"]) == 0
    board = capsys.readouterr().out
    assert "baselines on the same folds" in board
    if "not completed (pruned or failed) and why:" in board:
        reasons = board.split("not completed (pruned or failed) and why:")[1]
        assert "TimeBudget" in reasons or "Pruned:" in reasons


def test_run_with_a_budget_too_small_exits_2_naming_the_smallest_useful_one(llzo_campaign, capsys):
    assert main(["run", str(llzo_campaign.directory), "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert "too small for one cheap trial" in err and "smallest useful budget is 5 s" in err
