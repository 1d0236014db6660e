"""`kill -9` at any moment of `planner observe` leaves the old or the new state, never a torn one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.spec import CampaignSpec, InputSpec, TargetSpec

N_OLD, N_NEW = 2_000, 30_000


def _observe_cmd(directory, path):
    return [sys.executable, "-m", "planner.cli", "observe", str(directory), str(path)]


def _frame(rng, n, start):
    data = {f"x{i}": rng.uniform(0, 1, n) for i in range(6)}
    data["sample_id"] = [f"s{start + k}" for k in range(n)]
    data["y"] = rng.normal(size=n)
    return pd.DataFrame(data)


@pytest.mark.slow
def test_kill_during_observe_never_corrupts(tmp_path):
    rng = np.random.default_rng(0)
    spec = CampaignSpec(
        name="kill",
        data={"id_column": "sample_id"},
        inputs=[InputSpec(name=f"x{i}") for i in range(6)],
        targets=[TargetSpec(name="y", direction="max")],
    )
    base = tmp_path / "base"
    Campaign.create(base, spec)
    old_csv, new_csv = tmp_path / "old.csv", tmp_path / "new.csv"
    _frame(rng, N_OLD, 0).to_csv(old_csv, index=False)
    _frame(rng, N_NEW, N_OLD).to_csv(new_csv, index=False)
    subprocess.run(_observe_cmd(base, old_csv), check=True, capture_output=True)
    old_bytes = (base / "observations.csv").read_bytes()

    # How long does a complete run take? Kill at fractions of that, densest near the write.
    timing = tmp_path / "timing"
    shutil.copytree(base, timing)
    start = time.monotonic()
    subprocess.run(_observe_cmd(timing, new_csv), check=True, capture_output=True)
    duration = time.monotonic() - start

    outcomes = []
    for k, fraction in enumerate([0.2, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.96, 0.98, 1.0]):
        work = tmp_path / f"run{k}"
        shutil.copytree(base, work)
        proc = subprocess.Popen(_observe_cmd(work, new_csv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stored = (work / "observations.csv").read_bytes()
        frame = pd.read_csv(work / "observations.csv")
        if stored == old_bytes:
            outcomes.append("old")
        else:
            # The new state must be complete: every old row byte-identical, all new rows present.
            assert stored.startswith(old_bytes.split(b"\n", 1)[0]), "header changed"
            assert len(frame) == N_OLD + N_NEW
            assert frame["sample_id"].is_unique and frame["y"].notna().all()
            assert frame.iloc[:N_OLD]["sample_id"].tolist() == [f"s{i}" for i in range(N_OLD)]
            outcomes.append("new")
        # Whatever happened, the campaign still works and finishes the job on a re-run.
        subprocess.run(_observe_cmd(work, new_csv), check=True, capture_output=True)
        assert len(Campaign.load(work).observations()) == N_OLD + N_NEW
    assert "old" in outcomes, outcomes  # some kills landed before the replace
