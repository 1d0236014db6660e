"""One more GP arm on the BTZ backtest protocol of backtest_btz.py, paired with its stored runs.

The starting rows depend only on the pool and the seed, so an arm run here pairs exactly with the
arms in results/backtest_btz (same pool, same seeds, same protocol).

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/molecules/backtest_variant.py --kind compact+onehot --seeds 20
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
from scipy.stats import wilcoxon

from planner.active import backtest
from planner.active._backtest import Arm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", default="compact+onehot")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    base = HERE / "results" / "backtest_btz"
    out = HERE / "results" / f"backtest_btz_{args.kind.replace('+', '_')}"
    out.mkdir(parents=True, exist_ok=True)
    label = f"qlognei+{args.kind}"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = backtest(btz(), inputs=INPUTS, targets=[(TARGET, "max")], strategies=[Arm(label, "qlognei", "gp")], n_seeds=args.seeds, n_initial=5,
                          batch_size=5, budget=45, n_jobs=1, seed=0, categorical=SMILES, featurizer=mixture_featurizer(args.kind), checkpoint=out / "partial_variant")
    result.runs.to_csv(out / "runs.csv", index=False)
    result.summary.to_csv(out / "summary.csv", index=False)
    runs = pd.concat([pd.read_csv(base / "runs.csv"), result.runs], ignore_index=True)
    final = runs.groupby(["arm", "seed"])["best_so_far"].max().unstack(0)
    hit = runs[runs["top_0.05_found"] > 0].groupby(["arm", "seed"])["i"].min().unstack(0).reindex(index=final.index, columns=final.columns).fillna(46)
    hit1 = runs[runs["top_0.01_found"] > 0].groupby(["arm", "seed"])["i"].min().unstack(0).reindex(index=final.index, columns=final.columns).fillna(46)
    lines = ["| comparison (a vs b) | metric | a better | ties | b better | median (a - b) | Wilcoxon p |", "|---|---|---|---|---|---|---|"]
    for b in ("qlognei", "qlognei+desc", "greedy@rf"):
        for metric, table, sign in (("final best (M)", final, 1), ("experiments to first top-5% (missed = 46)", hit, -1), ("experiments to first top-1% (missed = 46)", hit1, -1)):
            d = (table[label] - table[b]).to_numpy() * sign
            nz = np.abs(d) > 1e-12
            p = wilcoxon(d[nz]).pvalue if nz.sum() else float("nan")
            lines.append(f"| {label} vs {b} | {metric} | {int((d > 1e-12).sum())} | {int((~nz).sum())} | {int((d < -1e-12).sum())} | {np.median(d) * sign:+.3g} | {p:.3g} |")
    meta = {"command": "OMP_NUM_THREADS=1 taskset -c 0 python " + " ".join(shlex.quote(a) for a in sys.argv), "elapsed_seconds": round(time.perf_counter() - t0, 1)}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2))
    (out / "PAIRED.md").write_text("\n".join(lines) + "\n")
    print(result.summary.iloc[:, :14].to_string(index=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
