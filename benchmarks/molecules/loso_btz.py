"""Leave-one-solvent-out on BTZ: predicting solubility in mixtures with a solvent never seen.

For each of the pool's molecules, the test rows are every row that contains it (pure or in a
mixture) and the training rows are all the others. Fixed pipelines (no search, so this measures
the representation): fraction-weighted RDKit descriptors (cleaned in each fold) with a random
forest and with a GP; one-hot labels with a random forest (an unseen solvent is all zeros);
and the training mean. MAE over all test predictions (a row with two held-out solvents counts
once per fold it is in).

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/molecules/loso_btz.py
"""

from __future__ import annotations

import json
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd
from common import HERE, SMILES, TARGET, btz, solvents_of

from planner.automl._build import build_pipeline

MIX_ROLES = {"SMILES1": "mixture:solvent:Solvent1_volFraction", "Solvent1_volFraction": "fraction", "SMILES2": "mixture:solvent:Solvent2_volFraction", "Solvent2_volFraction": "fraction"}
ARMS = {
    "descriptors + rf": ({"imputer": "median", "scaler": "standard", "fusion": "single", "model": "rf", "molecules.solvent": "descriptors"}, MIX_ROLES),
    "descriptors + gp": ({"imputer": "median", "scaler": "standard", "fusion": "single", "model": "gp", "molecules.solvent": "descriptors"}, MIX_ROLES),
    "morgan + rf": ({"imputer": "median", "scaler": "standard", "fusion": "single", "model": "rf", "molecules.solvent": "morgan"}, MIX_ROLES),
    "onehot + rf": ({"imputer": "median", "scaler": "standard", "fusion": "single", "model": "rf", "molecules.solvent": "onehot"}, MIX_ROLES),
}


def main() -> None:
    out = HERE / "results" / "loso_btz"
    out.mkdir(parents=True, exist_ok=True)
    df = btz()
    X = df[list(MIX_ROLES)]
    y = df[TARGET].to_numpy(dtype=float)
    rows, t0 = [], time.perf_counter()
    for solvent in solvents_of(df):
        test = (df[SMILES] == solvent).any(axis=1).to_numpy()
        train = ~test
        base = {"solvent": solvent, "n_test": int(test.sum()), "n_train": int(train.sum())}
        rows.append({**base, "arm": "training mean", "mae": float(np.abs(y[test] - y[train].mean()).mean()), "sq": float(((y[test] - y[train].mean()) ** 2).sum())})
        for arm, (params, roles) in ARMS.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipe = build_pipeline(params, task="regression", column_roles=roles, seed=0).fit(X[train], y[train])
                pred = pipe.predict(X[test])
            rows.append({**base, "arm": arm, "mae": float(np.abs(y[test] - pred).mean()), "sq": float(((y[test] - pred) ** 2).sum())})
        print(solvent, base["n_test"], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "per_solvent.csv", index=False)
    agg = table.assign(abs_sum=table["mae"] * table["n_test"]).groupby("arm", sort=False).agg(n=("n_test", "sum"), abs_sum=("abs_sum", "sum"), sq=("sq", "sum"))
    agg["MAE (all test rows)"] = (agg["abs_sum"] / agg["n"]).round(4)
    agg["RMSE"] = np.sqrt(agg["sq"] / agg["n"]).round(4)
    per = table.pivot(index="solvent", columns="arm", values="mae")
    agg["solvents better than mean"] = [int((per[a] < per["training mean"]).sum()) if a != "training mean" else None for a in agg.index]
    agg["median per-solvent MAE"] = per.median().reindex(agg.index).round(4)
    lines = [f"{len(per)} held-out solvents, {len(df)} rows", "", agg[["n", "MAE (all test rows)", "RMSE", "median per-solvent MAE", "solvents better than mean"]].to_string()]
    meta = {"command": "OMP_NUM_THREADS=1 taskset -c 0 python " + " ".join(shlex.quote(a) for a in sys.argv), "elapsed_seconds": round(time.perf_counter() - t0, 1)}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2))
    (out / "SUMMARY.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
