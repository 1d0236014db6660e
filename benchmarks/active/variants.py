"""Candidate changes to planner's default arm, tried on held-out seeds before any adoption.

The headline backtests (``run_backtests.py``) use seeds 0-19. A change to the default that is
chosen by looking at those seeds would be tuned to them, so candidates are compared here on
*other* starting sets (base seed 1000 by default), against the current default GP qLogNEI
arm on the same seeds, per seed (paired), with a two-sided Wilcoxon signed-rank test.

Arms (every one with planner's qLogNEI and batch, differing only in the model):

- ``qlognei``: the default (GP, ARD Matern-5/2, dimension-scaled priors, standardized outputs);
- ``failures``: observations piled up at a target's worst value modelled as failed runs,
  ``suggest(floor="failures")`` (the same runs as ``qlognei`` on every pool without such a
  floor);
- ``yj``: the same GP fitted to Yeo-Johnson-transformed outputs (refitted every round; the
  output warping of HEBO, Cowen-Rivers et al. 2022);
- ``copula``: the same GP fitted to the outputs' ranks mapped to normal quantiles;
- ``qlognei@et``: extra-trees ensemble surrogate (per-tree spread);
- ``portfolio``: ``suggest(surrogate="portfolio")``, half of each batch from the GP, the rest
  from a random forest with the GP's picks pending (planner's default since issue 14).

Usage::

    python benchmarks/active/variants.py --datasets autoam agnp btz oer_3851 --seed 1000 --jobs 2

writes ``results/variants/<dataset>_runs.csv`` and ``results/variants/VARIANTS.md``. With
``--merge`` the arms run replace only their own rows in existing ``<dataset>_runs.csv`` files
(the same seeds), and the tables cover every dataset with a runs file.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ARMS = ("qlognei", "failures", "yj", "copula", "qlognei@et")
REFERENCE = "qlognei"


def _warp(y: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Monotone transform of every output column (the order of the values is kept)."""
    from scipy.stats import norm, rankdata
    from sklearn.preprocessing import PowerTransformer

    out = y.astype(float).copy()
    for col in y.columns:
        v = y[col].to_numpy(dtype=float)
        if np.ptp(v) == 0:
            continue
        if kind == "yj":
            out[col] = PowerTransformer(method="yeo-johnson").fit_transform(v.reshape(-1, 1)).ravel()
        else:
            out[col] = norm.ppf((rankdata(v) - 0.5) / len(v))
    return out


def _warped_policy(kind, observed_X, observed_y, candidates, targets, n, seed):
    from planner.active import PoolDesign, suggest

    result = suggest(
        observed_X,
        _warp(observed_y, kind),
        design=PoolDesign(candidates),
        targets=targets,
        n=n,
        strategy="qlognei",
        surrogate="gp",
        seed=seed,
    )
    return [int(c) for c in result.table["candidate"]]


def yj_policy(*args):
    return _warped_policy("yj", *args)


def copula_policy(*args):
    return _warped_policy("copula", *args)


def _arms(names: list[str]):
    import variants  # pickled by module name for the worker processes

    from planner.active import Arm

    policies = {"yj": variants.yj_policy, "copula": variants.copula_policy}
    options = {"failures": {"floor": "failures"}}
    return [
        Arm(n, strategy="qlognei", surrogate="portfolio")  # planner's default
        if n == "portfolio"
        else Arm(n, strategy="qlognei", policy=policies[n])
        if n in policies
        else Arm(n, strategy="qlognei", options=options[n])
        if n in options
        else Arm.parse(n)
        for n in names
    ]


def _table(name: str, runs: pd.DataFrame, budget: int) -> pd.DataFrame:
    """Every arm (the reference too) paired per seed against the reference."""
    from run_backtests import _paired_first_hits, _paired_table

    pairs = _paired_first_hits(name, runs, budget, REFERENCE, arms=list(runs["arm"].unique()))
    table = _paired_table(pairs, REFERENCE, ["top", "arm"], "diff")
    return table.drop(columns=f"{REFERENCE}_median_first_hit").assign(dataset=name)[
        ["dataset", "top", "arm", "median_first_hit", "median_paired_difference", "seeds_fewer/tie/more", "wilcoxon_p"]
    ]


def main() -> None:
    from datasets import NAMES, load
    from run_backtests import backtest_dataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["autoam", "agnp", "btz", "oer_3851"], choices=NAMES)
    parser.add_argument("--arms", nargs="+", default=list(ARMS))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1000, help="base seed; the headline backtests use 0")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--merge", action="store_true", help="replace only these arms' rows in existing runs files")
    args = parser.parse_args()
    if REFERENCE not in args.arms and not args.merge:
        parser.error(f"--arms must include the reference arm {REFERENCE!r} (or --merge into runs that have it)")
    out = HERE / "results" / "variants"
    out.mkdir(parents=True, exist_ok=True)
    tables, timings = [], {}
    for name in args.datasets:
        bench = load(name)
        t0 = time.perf_counter()
        result = backtest_dataset(bench, _arms(args.arms), n_seeds=args.seeds, n_jobs=args.jobs, seed=args.seed)
        timings[name] = round(time.perf_counter() - t0, 1)
        failed = result.metadata["failed_runs"]
        if failed:
            print(f"{name}: {len(failed)} failed run(s): {failed[:3]}", flush=True)
        runs = result.runs
        path = out / f"{name}_runs.csv"
        if args.merge and path.exists():
            old = pd.read_csv(path)
            if sorted(old["seed"].unique()) != sorted(runs["seed"].unique()):
                parser.error(f"--merge: {path} has other seeds than this run")
            runs = pd.concat([old[~old["arm"].isin(args.arms)], runs], ignore_index=True)
        runs.to_csv(path, index=False)
        print(f"{name}: {timings[name]} s", flush=True)
    names = [name for name in NAMES if (out / f"{name}_runs.csv").exists()] if args.merge else args.datasets
    for name in names:
        runs = pd.read_csv(out / f"{name}_runs.csv")
        tables.append(_table(name, runs, load(name).budget))
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(out / "variants.csv", index=False)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    earlier = []
    if args.merge and (out / "VARIANTS.md").exists():  # the commands that made the merged runs
        earlier = [line for line in (out / "VARIANTS.md").read_text().splitlines() if line.startswith("- command:")]
    text = [
        "# Candidate default arms on held-out seeds (generated by variants.py)",
        "",
        *earlier,
        f"- command: `{command}` (wall seconds per dataset: {json.dumps(timings)})",
        f"- {args.seeds} seeds from base seed {args.seed} (the headline backtests use base seed 0); same protocol "
        "per dataset as run_backtests.py; paired per seed against the default `qlognei` (GP); a seed without a hit "
        "counts budget + 1; negative differences: fewer experiments than the default; two-sided Wilcoxon signed-rank.",
        "",
        table.to_markdown(index=False, floatfmt=".3g"),
        "",
    ]
    (out / "VARIANTS.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
