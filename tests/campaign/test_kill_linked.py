"""`kill -9` of `planner observe` between its writes never leaves a fulfilled suggestion pending.

``observe`` of results linked to suggestions writes two files: ``observations.csv`` (the rows,
each with the suggestion it fulfils) and then ``suggestions.csv`` (the statuses). A real child
process is SIGKILLed just before and just after each atomic replace it makes; whatever point it
died at, every reader sees observations and suggestion statuses that agree, and the next
``observe`` finishes the job without storing anything twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.spec import CampaignSpec, DesignSpace, InputSpec, TargetSpec

# The child counts the atomic replaces into the campaign directory and kills itself with
# SIGKILL at the chosen one, before or after the rename: a real process dying mid-observe.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from planner.cli import main

    directory, results, kill_at, when = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    real_replace, seen = os.replace, []

    def replace(src, dst, *args, **kwargs):
        if Path(dst).parent.resolve() == Path(directory).resolve():
            seen.append(Path(dst).name)
            if len(seen) == kill_at and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst, *args, **kwargs)
            if len(seen) == kill_at and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return None
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace
    code = main(["observe", directory, results])
    print("REPLACES " + " ".join(seen))
    sys.exit(code)
    """
)


def _campaign(directory):
    spec = CampaignSpec(
        name="linked",
        data={"id_column": "sample_id"},
        inputs=[InputSpec(name="x1"), InputSpec(name="x2"), InputSpec(name="salt", role="categorical")],
        targets=[TargetSpec(name="y", direction="max")],
        design_space=DesignSpace(ranges={"x1": (0.0, 1.0), "x2": (0.0, 1.0)}, choices={"salt": ["LiPF6", "LiFSI"]}),
    )
    camp = Campaign.create(directory, spec)
    first = pd.DataFrame({"sample_id": ["a", "b", "c"], "x1": [0.1, 0.5, 0.9], "x2": [0.2, 0.4, 0.6],
                          "salt": ["LiPF6", "LiFSI", "LiPF6"], "y": [1.0, 2.0, 1.5]})
    camp.observe(first)
    designs = pd.DataFrame({"x1": [0.2, 0.3, 0.7, 0.8], "x2": [0.25, 0.35, 0.75, 0.85],
                            "salt": ["LiPF6", "LiFSI", "LiFSI", "LiPF6"]})
    with camp.store.lock():
        camp.suggestions.append(designs, strategy="qlognei", model="gp")
    return camp


def _results(path):
    # S0001 and S0002 linked by id, S0003 by its inputs (0.7012 is within tolerance), one unasked row.
    pd.DataFrame({"suggestion_id": ["S0001", "S0002", "", ""], "sample_id": ["d", "e", "f", "g"],
                  "x1": [0.2, 0.3, 0.7012, 0.05], "x2": [0.25, 0.35, 0.75, 0.95],
                  "salt": ["LiPF6", "LiFSI", "LiFSI", "LiFSI"], "y": [2.5, 3.0, 2.2, 0.4]}).to_csv(path, index=False)
    return path


def _observe(directory, results, kill_at=0, when="never"):
    return subprocess.run([sys.executable, "-c", CHILD, str(directory), str(results), str(kill_at), when],
                          capture_output=True, text=True, timeout=120)


def _consistent(directory):
    """Statuses as every reader sees them agree with the stored observations."""
    camp = Campaign.load(directory)
    obs = camp.observations()
    log = camp.suggestions.read()
    fulfilled = set(obs["_fulfils"].dropna().astype(str)) - {""} if "_fulfils" in obs else set()
    observed = set(log.loc[log["_status"] == "observed", "_suggestion_id"].astype(str))
    assert observed == fulfilled, (observed, fulfilled)
    assert set(camp.suggestions.pending()["_suggestion_id"]) == {"S0001", "S0002", "S0003", "S0004"} - observed
    return len(obs), observed


@pytest.mark.slow
def test_kill_between_the_writes_of_a_linked_observe(tmp_path):
    results = _results(tmp_path / "results.csv")
    reference = tmp_path / "reference"
    _campaign(reference)
    done = _observe(reference, results)
    assert done.returncode == 0, done.stderr
    replaces = done.stdout.split("REPLACES ", 1)[1].split()
    assert replaces == ["observations.csv", "suggestions.csv"], replaces
    n_full, observed_full = _consistent(reference)
    assert n_full == 7 and observed_full == {"S0001", "S0002", "S0003"}

    outcomes = set()
    for kill_at in range(1, len(replaces) + 1):
        for when in ("before", "after"):
            work = tmp_path / f"kill_{kill_at}_{when}"
            _campaign(work)
            killed = _observe(work, results, kill_at, when)
            assert killed.returncode == -9, (kill_at, when, killed.stdout, killed.stderr)
            n_obs, observed = _consistent(work)
            outcomes.add((n_obs, len(observed)))
            assert (n_obs, observed) in [(3, set()), (7, observed_full)], (kill_at, when, n_obs, observed)
            # The next observe of the same file repairs the log and stores nothing twice.
            again = _observe(work, results)
            assert again.returncode == 0, again.stderr
            assert _consistent(work) == (7, observed_full)
            raw = Campaign.load(work).suggestions.read_raw()
            assert set(raw.loc[raw["_status"] == "observed", "_suggestion_id"]) == observed_full
    # Both sides of the commit point were hit: before it nothing stored, after it all of it.
    assert outcomes == {(3, 0), (7, 3)}, outcomes


def test_status_json_counts_reconciled_pending(tmp_path):
    """A log left stale by a kill is already right for `status` before any repair is written."""
    work = tmp_path / "camp"
    camp = _campaign(work)
    camp.observe(pd.read_csv(_results(tmp_path / "results.csv")))
    # Put the file back as a kill after the observations write would have left it.
    raw = camp.suggestions.read_raw()
    raw["_status"] = "pending"
    raw["_observed_obs_id"] = float("nan")
    camp.suggestions._write(raw)
    assert (camp.suggestions.read_raw()["_status"] == "pending").all()
    out = subprocess.run([sys.executable, "-m", "planner.cli", "status", str(work), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_suggestions_pending"] == 1
