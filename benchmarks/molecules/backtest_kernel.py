"""GP representations / kernels for molecules on the BTZ backtest protocol (paired seeds).

Same protocol as backtest_btz.py (211 unique candidates, 5 random starts, batches of 5, budget
45); the starting rows depend only on the pool and the seed, so every arm of a seed starts from
the same rows. Arms (planner's GP with qLogNEI in every case; only the representation / kernel
differs):

* ``qlognei`` - one-hot SMILES slots + fractions, ARD Matern-5/2 (the baseline);
* ``qlognei+compact+onehot`` - compact descriptors + fraction-weighted one-hot, ARD Matern-5/2
  (the ``planner suggest`` default before this script);
* ``qlognei+minmax`` - MinMax (Tanimoto on counts) kernel on fraction-weighted Morgan count
  fingerprints (planner/active/_molecular_kernel.py);
* ``qlognei+minmax+matern`` - MinMax on the fingerprints + ARD Matern-5/2 on compact
  descriptors and fraction-weighted one-hot (additive).

Protocol: variants are compared on development seeds (``--seed0 100``); the one chosen there is
then run once on the standard seeds 0-19 (``--seed0 0``), where the one-hot GP's stored runs
(results/backtest_btz) are the baseline, and reported whatever it shows.

    OMP_NUM_THREADS=1 nice -n 15 taskset -c 1 python benchmarks/molecules/backtest_kernel.py --seed0 100 --arms qlognei qlognei+minmax qlognei+minmax+matern --out results/backtest_btz_dev
    OMP_NUM_THREADS=1 nice -n 15 taskset -c 1 python benchmarks/molecules/backtest_kernel.py --seed0 0 --arms qlognei+minmax --baseline-runs results/backtest_btz/runs.csv --out results/backtest_btz_confirm
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

#: arm -> (featurizer kind, GP kernel); None = one-hot labels (no featurizer)
ARMS = {
    "qlognei": None,
    "qlognei+compact+onehot": ("compact+onehot", None),
    "qlognei+minmax": ("morgan", "minmax"),
    "qlognei+minmax+matern": ("morgan+compact+onehot", "minmax+matern"),
}
BASELINE = "qlognei"


def paired_table(runs: pd.DataFrame, budget: int, baseline: str = BASELINE) -> list[str]:
    """Paired per-seed comparison of every arm against ``baseline`` (Wilcoxon signed-rank)."""
    final = runs.groupby(["arm", "seed"])["best_so_far"].max().unstack(0)
    missed = budget + 1
    hit5 = runs[runs["top_0.05_found"] > 0].groupby(["arm", "seed"])["i"].min().unstack(0).reindex(index=final.index, columns=final.columns).fillna(missed)
    hit1 = runs[runs["top_0.01_found"] > 0].groupby(["arm", "seed"])["i"].min().unstack(0).reindex(index=final.index, columns=final.columns).fillna(missed)
    lines = [
        "| comparison (a vs b) | metric | seeds | a better | ties | b better | median (a - b) | Wilcoxon p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in final.columns:
        if a == baseline:
            continue
        for metric, table, sign in (
            (f"experiments to first top-1% (missed = {missed})", hit1, -1),
            (f"experiments to first top-5% (missed = {missed})", hit5, -1),
            ("final best (M)", final, 1),
        ):
            both = table[[a, baseline]].dropna()
            d = (both[a] - both[baseline]).to_numpy() * sign
            nz = np.abs(d) > 1e-12
            p = wilcoxon(d[nz]).pvalue if nz.sum() else float("nan")
            lines.append(
                f"| {a} vs {baseline} | {metric} | {len(d)} | {int((d > 1e-12).sum())} | {int((~nz).sum())} | {int((d < -1e-12).sum())} | {np.median(d) * sign:+.3g} | {p:.3g} |"
            )
    return lines


def summary_table(runs: pd.DataFrame, budget: int, seconds: dict[str, float]) -> pd.DataFrame:
    rows = []
    for arm, g in runs.groupby("arm"):
        per_seed = g.groupby("seed")
        final = per_seed["best_so_far"].max()
        share1 = per_seed["top_0.01_found"].max()
        hit1 = g[g["top_0.01_found"] > 0].groupby("seed")["i"].min().reindex(final.index)
        hit5 = g[g["top_0.05_found"] > 0].groupby("seed")["i"].min().reindex(final.index)
        rows.append({
            "arm": arm, "seeds": len(final), "final_best_mean": round(final.mean(), 3), "top1_share_mean": round(share1.mean(), 3),
            "first_top1_median": hit1.fillna(budget + 1).median(), "top1_missed": int(hit1.isna().sum()),
            "first_top5_median": hit5.fillna(budget + 1).median(), "top5_missed": int(hit5.isna().sum()),
            "s_per_run": seconds.get(arm, float("nan")),
        })
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arms", nargs="+", default=["qlognei", "qlognei+minmax"], choices=list(ARMS))
    parser.add_argument("--seed0", type=int, default=100, help="first seed (100: development seeds; 0: the standard seeds)")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=45)
    parser.add_argument("--baseline-runs", default=None, help="runs.csv holding the baseline arm on the same seeds (relative to this folder)")
    parser.add_argument("--out", default="results/backtest_btz_dev")
    args = parser.parse_args()
    out = HERE / args.out
    out.mkdir(parents=True, exist_ok=True)
    pool = btz()
    common = dict(inputs=INPUTS, targets=[(TARGET, "max")], n_seeds=args.seeds, n_initial=5, batch_size=5, budget=args.budget, n_jobs=1, seed=args.seed0, categorical=SMILES)
    seconds_file = out / "seconds.json"
    seconds = json.loads(seconds_file.read_text()) if seconds_file.exists() else {}
    fresh = []
    for arm in args.arms:
        spec = ARMS[arm]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if spec is None:
                result = backtest(pool, strategies=[Arm(arm, "qlognei", "gp")], checkpoint=out / f"partial_{arm}", **common)
            else:
                result = backtest(pool, strategies=[Arm(arm, "qlognei", "gp")], featurizer=mixture_featurizer(spec[0], spec[1]), checkpoint=out / f"partial_{arm}", **common)
        fresh.append(result.runs)
        seconds[arm] = round(float(result.summary["seconds_per_run"].iloc[0]), 1) if "seconds_per_run" in result.summary else round((time.perf_counter() - t0) / args.seeds, 1)
        print(f"{arm}: {time.perf_counter() - t0:.0f} s", flush=True)
    runs_file = out / "runs.csv"
    earlier = [pd.read_csv(runs_file)] if runs_file.exists() else []  # arms of earlier invocations on these seeds
    runs = pd.concat([*(r[~r["arm"].isin(args.arms)] for r in earlier), *fresh], ignore_index=True)
    runs.to_csv(runs_file, index=False)
    seconds_file.write_text(json.dumps(seconds, indent=2))
    analysed = runs
    if args.baseline_runs:
        base = pd.read_csv(HERE / args.baseline_runs)
        base = base[(base["arm"] == BASELINE) & base["seed"].isin(runs["seed"].unique())]
        analysed = pd.concat([runs[runs["arm"] != BASELINE], base], ignore_index=True)
    summary = summary_table(analysed, args.budget, seconds)
    summary.to_csv(out / "summary.csv", index=False)
    lines = paired_table(analysed, args.budget)
    meta_file = out / "metadata.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {"commands": []}
    meta["commands"].append("OMP_NUM_THREADS=1 nice -n 15 taskset -c 1 python " + " ".join(shlex.quote(a) for a in sys.argv))
    meta.update({"seeds": [args.seed0, args.seed0 + args.seeds - 1], "pool_rows": int(len(pool)), "baseline_runs": args.baseline_runs,
                 "note": "wall-clock seconds on a shared, loaded 2-core machine, one core, one thread"})
    meta_file.write_text(json.dumps(meta, indent=2))
    (out / "PAIRED.md").write_text(summary.to_markdown(index=False) + "\n\n" + "\n".join(lines) + "\n")
    print(summary.to_string(index=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
