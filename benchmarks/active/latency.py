"""Time and peak memory of ``suggest(n=5)`` for pool sizes x numbers of observations.

Run from the repository root::

    python benchmarks/active/latency.py --sizes 1000 10000 100000 1000000 --observations 50 200 1000

Each cell runs in a fresh process: a 6-input numeric pool (uniform in the unit cube) and
observations of the Hartmann-6 function with 1% noise at other random points of the cube. Reported per cell: the seconds of a
first ``suggest`` (torch/BoTorch imports excluded, measured separately), of a second one (the
steady state), the phases (fit, select), the process's peak RSS and its RSS before the call
(the pool itself), and the 1-minute load average while it ran: on a shared machine the
absolute seconds depend on the neighbours, ratios between cells measured together less so.
Results go to ``results/latency.csv`` and ``results/LATENCY.md`` for ``suggest``'s default
surrogate (``--surrogate`` left out), to ``results/latency_<strategy>_<surrogate>.csv`` and
``LATENCY_<STRATEGY>_<SURROGATE>.md`` for any other.
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
import json, os, resource, sys, time, warnings
# "python -c" puts the working directory (the repository root) first on sys.path, where it would
# shadow a planner package given on PYTHONPATH (latency_check.py's base): drop it.
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
t0 = time.perf_counter()
import torch, botorch  # imports are timed on their own
t_import = time.perf_counter() - t0
import numpy as np, pandas as pd
import planner
from planner.active import PoolDesign, suggest
warnings.simplefilter("ignore")
N, n_obs, strategy, surrogate, threads = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks", "active"))
from synthetic import hartmann6, uniform_pool
rng = np.random.default_rng(0)
pool = uniform_pool(N, seed=0)
rng.random((N, 6))  # keep the generator's stream as before
design = PoolDesign(pool)
# Measured points are drawn beside the pool (same cube), so every pool size keeps all its candidates.
obs = pd.DataFrame(np.random.default_rng(1).random((n_obs, 6)), columns=pool.columns)
y = pd.DataFrame({"y": hartmann6(obs.to_numpy()) * (1 + 0.01 * rng.standard_normal(n_obs))})
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
load0 = os.getloadavg()[0]
out = {}
for key in ("first", "second"):
    t = time.perf_counter()
    r = suggest(obs, y, design=design, targets=[("y", "max")], n=5, strategy=strategy, surrogate=surrogate, seed=0, n_threads=threads)
    out[key] = time.perf_counter() - t
    out[key + "_phases"] = r.metadata["seconds"]
out.update(
    import_s=t_import, rss_before_mb=rss_before, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    load_avg_1min=(load0 + os.getloadavg()[0]) / 2, n_scored=r.metadata["n_scored"], model=r.metadata["model"],
    code=os.path.dirname(planner.__file__), picks=r.table["candidate"].tolist(),
)
print(json.dumps(out))
"""


def measure(n: int, n_obs: int, strategy: str, surrogate: str, threads: int, timeout: int) -> dict:
    cmd = [sys.executable, "-c", CHILD, str(n), str(n_obs), strategy, surrogate, str(threads)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE.parents[1])
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--observations", nargs="+", type=int, default=[50, 200, 1000])
    parser.add_argument("--strategy", default="qlognei")
    parser.add_argument("--surrogate", default=None, help="default: suggest's default surrogate")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args()
    from planner.active import DEFAULT_SURROGATE

    default = args.surrogate is None
    args.surrogate = args.surrogate or DEFAULT_SURROGATE
    rows = []
    for n in args.sizes:
        for n_obs in args.observations:
            res = measure(n, n_obs, args.strategy, args.surrogate, args.threads, args.timeout)
            row = {
                "pool_size": n,
                "n_observations": n_obs,
                "strategy": args.strategy,
                "surrogate": args.surrogate,
                "torch_threads": args.threads,
            }
            if "error" in res:
                row["error"] = res["error"]
            else:
                row.update(
                    first_s=round(res["first"], 2),
                    second_s=round(res["second"], 2),
                    fit_s=res["second_phases"]["fit"],
                    select_s=res["second_phases"]["select"],
                    import_s=round(res["import_s"], 2),
                    rss_before_mb=round(res["rss_before_mb"]),
                    peak_rss_mb=round(res["peak_rss_mb"]),
                    load_avg_1min=round(res["load_avg_1min"], 1),
                )
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    name = (
        "latency"
        if (default or args.surrogate == DEFAULT_SURROGATE) and args.strategy == "qlognei"
        else f"latency_{args.strategy}_{args.surrogate}"
    )
    table.to_csv(out / f"{name}.csv", index=False)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=HERE.parents[1], capture_output=True, text=True).stdout.strip()
    (out / f"{name.upper()}.md").write_text(
        f"# suggest -n 5 latency and memory\n\ncommand: `{command}` (commit {commit}) on {os.cpu_count()} cores shared "
        "with other jobs "
        "(see load_avg_1min: absolute seconds depend on the neighbours).\n\n" + table.to_markdown(index=False) + "\n"
    )


if __name__ == "__main__":
    main()
