"""Ctrl-C of `planner run`: a real SIGINT to a real process group, as a terminal sends it.

The command must say what happened (the CLI framework used to swallow the message and exit
130 silently) and leave no trial RUNNING in the study: every trial in flight is closed as
failed with the reason 'interrupted', and a second `run` continues the same study.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pandas as pd
import pytest

from planner.cli import main


@pytest.fixture
def campaign_dir(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "x1": rng.uniform(0, 1, n),
                          "x2": rng.uniform(0, 1, n), "salt": rng.choice(["LiPF6", "LiFSI"], n)})
    frame["y"] = 2 * frame["x1"] - frame["x2"] + rng.normal(0, 0.1, n)
    frame.to_csv(tmp_path / "data.csv", index=False)
    assert main(["init", str(tmp_path / "camp"), "--data", str(tmp_path / "data.csv"), "--target", "y:max",
                 "--id", "sample_id"]) == 0
    capsys.readouterr()
    return tmp_path / "camp"


def _trials(directory):
    storage = f"sqlite:///{directory / 'optuna.db'}"
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def _interrupt_after(directory, n_lines):
    """Start `planner run`, wait for ``n_lines`` trial lines, then Ctrl-C its process group."""
    proc = subprocess.Popen([sys.executable, "-m", "planner.cli", "run", str(directory), "--trials", "500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen, deadline = 0, time.monotonic() + 240
    while seen < n_lines and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += "] trial" in line
    assert seen == n_lines, f"the search printed {seen} trial lines, stderr: {proc.stderr.read()}"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.slow
def test_ctrl_c_says_so_and_leaves_no_running_trial(campaign_dir):
    for n_lines in (1, 3, 4):
        code, err = _interrupt_after(campaign_dir, n_lines)
        assert code == 130, err
        assert "interrupted: everything stored before the interruption is kept" in err, err
        assert "Traceback" not in err and "internal error" not in err, err
        trials = _trials(campaign_dir)
        states = [t.state for t in trials]
        assert optuna.trial.TrialState.RUNNING not in states, states
        for t in trials:
            if t.state == optuna.trial.TrialState.FAIL:
                assert t.user_attrs.get("failure_reason"), t.number
    assert any(t.state == optuna.trial.TrialState.COMPLETE for t in _trials(campaign_dir))
