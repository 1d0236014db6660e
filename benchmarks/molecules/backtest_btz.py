"""Backtests on the BTZ pool: descriptor GP vs one-hot GP vs greedy RF (paired seeds).

Same protocol as benchmarks/active (5 random starts, batches of 5, budget 45, seed 0), on the
pool with canonical SMILES as inputs (211 unique rows after averaging replicates). Arms:

* ``qlognei+desc`` - planner's GP (qLogNEI) on fraction-weighted compact RDKit descriptors of
  the solvent mixture (order-invariant; what ``planner suggest`` uses for a campaign with SMILES);
* ``greedy@rf+desc`` - greedy random forest on the same descriptors;
* ``qlognei`` - the GP on one-hot SMILES labels (order-dependent slots, as before this work);
* ``greedy@rf`` - greedy random forest on one-hot labels (the usual materials baseline);
* ``random``.

Every arm of a seed starts from the same rows (they depend only on the pool and the seed).

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/molecules/backtest_btz.py --seeds 20
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd
from common import HERE, INPUTS, SMILES, TARGET, btz, mixture_featurizer

from planner.active import backtest
from planner.active._backtest import Arm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=45)
    parser.add_argument("--out", default=str(HERE / "results" / "backtest_btz"))
    args = parser.parse_args()
    out = __import__("pathlib").Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pool = btz()
    common = dict(inputs=INPUTS, targets=[(TARGET, "max")], n_seeds=args.seeds, n_initial=5, batch_size=5, budget=args.budget, n_jobs=1, seed=0, categorical=SMILES)
    t0 = time.perf_counter()
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results.append(backtest(pool, strategies=[Arm("qlognei+desc", "qlognei", "gp"), Arm("greedy@rf+desc", "greedy", "rf")],
                                featurizer=mixture_featurizer("compact"), checkpoint=out / "partial_desc", **common))
        results.append(backtest(pool, strategies=["qlognei", "greedy@rf", "random"], checkpoint=out / "partial_onehot", **common))
    runs = pd.concat([r.runs for r in results], ignore_index=True)
    summary = pd.concat([r.summary for r in results], ignore_index=True)
    curves = pd.concat([r.curves for r in results], ignore_index=True)
    runs.to_csv(out / "runs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    curves.to_csv(out / "curves.csv", index=False)
    # paired per-seed comparison of the final best and of experiments to the first top-5% hit
    final = runs.groupby(["arm", "seed"])["best_so_far"].max().unstack(0)
    hit = runs[runs["top_0.05_found"] > 0].groupby(["arm", "seed"])["i"].min().unstack(0).reindex(index=final.index, columns=final.columns)
    lines = ["| comparison (a vs b) | metric | a better | ties | b better | median (a - b) | Wilcoxon p |", "|---|---|---|---|---|---|---|"]
    from scipy.stats import wilcoxon

    for a, b in [("qlognei+desc", "qlognei"), ("qlognei+desc", "greedy@rf"), ("greedy@rf+desc", "greedy@rf")]:
        for metric, table, sign in (("final best (M)", final, 1), ("experiments to first top-5% (missed = budget+1)", hit.fillna(args.budget + 1), -1)):
            d = (table[a] - table[b]).to_numpy() * sign
            wins, ties, losses = int((d > 1e-12).sum()), int((np.abs(d) <= 1e-12).sum()), int((d < -1e-12).sum())
            p = wilcoxon(d[np.abs(d) > 1e-12]).pvalue if (np.abs(d) > 1e-12).sum() >= 1 else float("nan")
            lines.append(f"| {a} vs {b} | {metric} | {wins} | {ties} | {losses} | {np.median(d) * sign:+.3g} | {p:.3g} |")
    meta = {"command": "OMP_NUM_THREADS=1 taskset -c 0 python " + " ".join(shlex.quote(a) for a in sys.argv), "elapsed_seconds": round(time.perf_counter() - t0, 1),
            "pool_rows": int(len(pool)), "metadata": [r.metadata for r in results]}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
    (out / "PAIRED.md").write_text("\n".join(lines) + "\n")
    cols = [c for c in summary.columns if c in ("arm", "n_runs", "seconds_per_run", "final_best_so_far_mean", "final_best_so_far_median", "final_top_0.01_mean", "first_hit_top_0.01_median", "first_hit_top_0.01_missed", "final_top_0.05_mean", "first_hit_top_0.05_median", "first_hit_top_0.05_missed")]
    print(summary[cols].to_string(index=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
