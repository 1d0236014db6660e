"""Latency of 5 suggestions: planner's ``suggest`` against BayBE's ``recommend``, side by side.

Run from the repository root in the benchmark environment that has BayBE (see README.md)::

    python benchmarks/active/latency_vs_baybe.py --sizes 1000 10000 --observations 50 200

Each cell runs in a fresh process holding both tools: the same 6-input pool (uniform in the
unit cube) and the same Hartmann-6 observations (1% noise) as ``latency.py``. Per tool, a
first call (lazy imports and set-up included) and a second one (steady state) are timed:
planner ``suggest(n=5)`` (qLogNEI, GP, torch threads 1) and, for BayBE, a campaign over
``SubspaceDiscrete.from_dataframe(pool)`` with the observations added, then
``recommend(batch_size=5)`` (BayBE's default recommender and GP surrogate). Both run one
after the other in the same process under the same load; the ratio is the number to read.
Results go to ``results/latency_vs_baybe.csv`` and ``results/LATENCY_VS_BAYBE.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
N, n_obs = int(sys.argv[1]), int(sys.argv[2])
sys.path.insert(0, "benchmarks/active")
from synthetic import hartmann6, uniform_pool
rng = np.random.default_rng(0)
pool = uniform_pool(N, seed=0)
rng.random((N, 6))  # keep the generator's stream as before
obs_idx = np.random.default_rng(1).choice(N, n_obs, replace=False)  # BayBE measures pool points
obs = pool.iloc[obs_idx].reset_index(drop=True)
y = hartmann6(obs.to_numpy()) * (1 + 0.01 * rng.standard_normal(n_obs))
out = {"load_start": os.getloadavg()[0]}

from planner.active import PoolDesign, suggest
design = PoolDesign(pool)
for key in ("first", "second"):
    t = time.perf_counter()
    suggest(obs, pd.DataFrame({"y": y}), design=design, targets=[("y", "max")], n=5, seed=0, n_threads=1)
    out[f"planner_{key}_s"] = time.perf_counter() - t

from baybe import Campaign
from baybe.objectives import SingleTargetObjective
from baybe.searchspace import SearchSpace, SubspaceDiscrete
from baybe.targets import NumericalTarget
from baybe.utils.random import set_random_seed
set_random_seed(0)
for key in ("first", "second"):
    t = time.perf_counter()
    campaign = Campaign(
        SearchSpace(discrete=SubspaceDiscrete.from_dataframe(pool)),
        SingleTargetObjective(NumericalTarget("y", minimize=False)),
        allow_recommending_already_measured=False,
    )
    campaign.add_measurements(obs.assign(y=y), numerical_measurements_must_be_within_tolerance=False)
    campaign.recommend(batch_size=5)
    out[f"baybe_{key}_s"] = time.perf_counter() - t
out["load_end"] = os.getloadavg()[0]
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000, 10_000])
    parser.add_argument("--observations", nargs="+", type=int, default=[50, 200])
    parser.add_argument("--timeout", type=int, default=1200)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        for n_obs in args.observations:
            cmd = [sys.executable, "-c", CHILD, str(n), str(n_obs)]
            row: dict = {"pool_size": n, "n_observations": n_obs}
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=HERE.parents[1])
                if proc.returncode != 0:
                    row["error"] = proc.stderr.strip().splitlines()[-1][:200]
                else:
                    res = json.loads(proc.stdout.strip().splitlines()[-1])
                    row.update({k: round(v, 2) for k, v in res.items()})
                    row["ratio_second_baybe_over_planner"] = round(res["baybe_second_s"] / res["planner_second_s"], 1)
            except subprocess.TimeoutExpired:
                row["error"] = f"timed out after {args.timeout} s"
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    out = HERE / "results"
    table.to_csv(out / "latency_vs_baybe.csv", index=False)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=HERE.parents[1], capture_output=True, text=True).stdout.strip()
    import baybe

    (out / "LATENCY_VS_BAYBE.md").write_text(
        "# 5 suggestions: planner vs BayBE, same pool, same observations, same process\n\n"
        f"command: `{command}` (commit {commit}, BayBE {baybe.__version__}) on {os.cpu_count()} cores shared with other jobs "
        "(load_start/load_end: 1-minute load average). `*_first_s` includes lazy imports and set-up, `*_second_s` is the "
        "steady state; BayBE's call builds its campaign over the pool, adds the observations and recommends (what a "
        "user's script does each round). torch threads 1 for both.\n\n" + table.to_markdown(index=False) + "\n"
    )


if __name__ == "__main__":
    main()
