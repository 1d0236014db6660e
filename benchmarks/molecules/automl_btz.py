"""AutoML on BTZ solubility: nested 5-fold CV, molecular descriptors vs one-hot labels.

Both arms search the same space (small_data, inner 5-fold CV, the same trials budget and seed)
over the same outer folds; they differ only in how the solvents enter the pipeline:

* ``descriptors`` - the mixture (SMILES1, SMILES2 with their volume fractions) as fraction-
  weighted RDKit 2D descriptors, cleaned inside each fold (roles ``mixture:`` / ``fraction``,
  the space's ``molecules: [descriptors]``);
* ``onehot`` - SMILES1 and SMILES2 as categorical labels (canonical spellings, so one molecule
  is one level), fractions numeric: the representation before this work;
* ``searched`` (optional, ``--arms``) - the representation is a search choice
  (descriptors / morgan / onehot), as a campaign runs it.

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/molecules/automl_btz.py --trials 15
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
from common import HERE, SMILES, TARGET, btz

from planner.automl import load_search_space, nested_cv
from planner.automl._cv import CVSpec


def roles_for(arm: str) -> dict[str, str]:
    if arm == "onehot":
        return {"SMILES1": "categorical", "Solvent1_volFraction": "numeric", "SMILES2": "categorical", "Solvent2_volFraction": "numeric"}
    return {"SMILES1": "mixture:solvent:Solvent1_volFraction", "Solvent1_volFraction": "fraction", "SMILES2": "mixture:solvent:Solvent2_volFraction", "Solvent2_volFraction": "fraction"}


def space_for(arm: str):
    data = load_search_space("small_data").to_dict()
    data["cv"] = {"n_splits": 5, "n_repeats": 1}
    if arm == "descriptors":
        data["molecules"] = ["descriptors"]
    return type(load_search_space("small_data")).from_dict(data, source=f"small_data[{arm}]")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--arms", nargs="+", default=["descriptors", "onehot"])
    parser.add_argument("--out", default=str(HERE / "results" / "automl_btz"))
    args = parser.parse_args()
    out = __import__("pathlib").Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df = btz()
    X = df[["SMILES1", "Solvent1_volFraction", "SMILES2", "Solvent2_volFraction"]].copy()
    X[SMILES] = X[SMILES].replace("", "none")  # a one-hot level for "no second solvent"; the featurizer reads "" as empty
    y = df[TARGET].to_numpy(dtype=float)
    rows, t0 = [], time.perf_counter()
    for arm in args.arms:
        Xa = X.copy()
        if arm != "onehot":
            Xa[SMILES] = df[SMILES]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = nested_cv(Xa, y, task="regression", search_space=space_for(arm), outer_cv=CVSpec(n_splits=5, n_repeats=1),
                               cv_spec=CVSpec(n_splits=5, n_repeats=1), n_trials=args.trials, seed=0, column_roles=roles_for(arm),
                               metric="mae", study_name=f"btz-{arm}")
        for fold in result.folds:
            rows.append({"arm": arm, "fold": fold.index, "mae": fold.metrics["mae"], "rmse": fold.metrics.get("rmse"), "r2": fold.metrics.get("r2"),
                         "pipeline": fold.pipeline, "n_trials": fold.n_trials, "search_s": round(fold.search_s, 1)})
        print(arm, f"MAE {result.mean:.4f} ± {result.std:.4f}", f"{time.perf_counter() - start:.0f}s", flush=True)
    # the training mean on the same outer folds
    from planner.automl._cv import make_splits

    splits, _ = make_splits(y, task="regression", cv_spec=CVSpec(n_splits=5, n_repeats=1), groups=None, seed=0)
    for k, (train, test) in enumerate(splits):
        err = y[test] - y[train].mean()
        rows.append({"arm": "training mean", "fold": k, "mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err ** 2).mean())), "r2": None, "pipeline": "mean", "n_trials": 0, "search_s": 0})
    table = pd.DataFrame(rows)
    table.to_csv(out / "folds.csv", index=False)
    summary = table.groupby("arm", sort=False)[["mae", "rmse"]].agg(["mean", "std"]).round(4)
    wide = table.pivot(index="fold", columns="arm", values="mae")
    lines = [summary.to_markdown() if hasattr(summary, "to_markdown") else summary.to_string(), ""]
    if {"descriptors", "onehot"} <= set(wide.columns):
        d = wide["descriptors"] - wide["onehot"]
        lines.append(f"paired outer folds, MAE descriptors - onehot: {', '.join(f'{v:+.4f}' for v in d)}; descriptors lower on {(d < 0).sum()} of {len(d)} folds")
    meta = {"command": "OMP_NUM_THREADS=1 taskset -c 0 python " + " ".join(shlex.quote(a) for a in sys.argv), "elapsed_seconds": round(time.perf_counter() - t0, 1), "n_rows": len(y)}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2))
    (out / "SUMMARY.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
