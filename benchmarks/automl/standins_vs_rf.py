"""The size-aware stand-ins for gated kernel models, alone, against planner's default random forest.

One outer fold of two real tables above a kernel gate (Matbench composition data, see
``../shared/datasets/matbench_composition/PROVENANCE.md``), Magpie statistics of the formula
(row-wise, no learned state; everything else is fitted on the training fold only):

* ``mp_e_form``: a seeded subsample of ``--rows`` rows (default 8,000) of the 132,752-row
  formation-energy table; folds by composition (``KFold(5, shuffle=True, random_state=18012019)``
  over the distinct compositions, fold 0), so polymorphs never straddle train and test. About
  6,400 training rows: above the ``gp`` (3,000) and ``kernel_ridge`` (5,000) gates.
* ``glass`` (5,680 rows, classification; fold 0 of Matbench's ``KFold(5, shuffle=True,
  random_state=18012019)``): ``nystroem_logistic`` for reference only: ``svc`` is gated at
  10,000 rows, so the search does not offer the stand-in at this size.

Every model is built by ``planner.automl.build_pipeline`` (median imputer, standard scaler) at
its default parameters (the default space's for ``rf``; ``planner.automl._gating.ALTERNATIVES``'
for the stand-ins). Writes ``results/standins_vs_rf.json`` with the exact command. Run from the
repository root, one core, one thread::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 1 \\
        .venv/bin/python benchmarks/automl/standins_vs_rf.py
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from planner.automl import build_pipeline, load_search_space
from planner.automl._gating import ALTERNATIVES
from planner.automl._space import SpaceContext
from planner.steps import MagpieFeaturizer

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("PLANNER_DATASETS", "/work/shared/datasets")) / "matbench_composition"
SEED = 18012019


def _params(name: str, n: int, task: str) -> dict:
    base = {"imputer": "median", "scaler": "standard", "fusion": "single", "model": name}
    alt = {alt_name: ranges for alt_name, ranges in ALTERNATIVES.values()}
    if name in alt:
        for p, spec in alt[name].items():
            base[f"model.{name}.{p}"] = spec.get("default", spec.get("choices", (None,))[0])
        return base
    single = next(f for f in load_search_space("default").fusion if f.kind == "single")
    choice = next(b for b in single.bases if b.name == name)
    ctx = SpaceContext(task=task, n_samples=n, n_features=1)
    base.update({f"model.{name}.{p}": spec.default_value(ctx) for p, spec in choice.params})
    return base


def _fit(name: str, X: Any, y: np.ndarray, tr: np.ndarray, te: np.ndarray, task: str, **overrides: Any) -> dict:
    params = {**_params(name, len(tr), task), **{f"model.{name}.{k}": v for k, v in overrides.items()}}
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    pipeline = build_pipeline(params, task=task, column_roles={c: "numeric" for c in frame.columns}, seed=0)
    X = frame
    start = time.perf_counter()
    pipeline.fit(X.iloc[tr], y[tr])
    fit_s = time.perf_counter() - start
    row = {"model": name, "params": {k: v for k, v in params.items() if k.startswith("model.")}, "fit_seconds": round(fit_s, 2), "train_rows": len(tr), "test_rows": len(te)}
    if task == "regression":
        row["mae"] = round(float(mean_absolute_error(y[te], pipeline.predict(X.iloc[te]))), 4)
    else:
        proba = pipeline.predict_proba(X.iloc[te])[:, 1]
        row["balanced_accuracy"] = round(float(balanced_accuracy_score(y[te], pipeline.predict(X.iloc[te]))), 4)
        row["roc_auc"] = round(float(roc_auc_score(y[te] == pipeline.classes_[1], proba)), 4)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8_000)
    args = parser.parse_args()
    out: dict = {"command": "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 1 .venv/bin/python " + shlex.join(sys.argv)}
    out["machine"] = "shared, loaded 2-core machine (other engineers' jobs running), one core, one thread"
    magpie = MagpieFeaturizer(composition_column="composition")

    frame = pd.read_csv(DATA / "matbench_mp_e_form.csv").sample(n=args.rows, random_state=SEED).reset_index(drop=True)
    comps = frame["composition"].astype(str).str.replace(" ", "", regex=False)
    groups = comps.unique()
    test_groups = set(groups[next(KFold(5, shuffle=True, random_state=SEED).split(groups))[1]])
    te = np.flatnonzero(comps.isin(test_groups).to_numpy())
    tr = np.setdiff1d(np.arange(len(frame)), te)
    X = np.asarray(magpie.fit_transform(frame[["composition"]]), dtype=float)
    y = frame["e_form"].to_numpy(dtype=float)
    out["mp_e_form_mean_baseline_mae"] = round(float(np.mean(np.abs(y[te] - y[tr].mean()))), 4)
    print("mean baseline MAE", out["mp_e_form_mean_baseline_mae"], flush=True)
    out["mp_e_form"] = [_fit(m, X, y, tr, te, "regression") for m in ("rf", "nystroem_ridge", "nystroem_svr", "subset_gp")]
    # the top of the ranges the sampler may draw, and the exact kernel ridge the gate removes here
    out["mp_e_form"] += [_fit("nystroem_ridge", X, y, tr, te, "regression", n_components=1000), _fit("subset_gp", X, y, tr, te, "regression", n_subset=2000)]
    out["mp_e_form"].append(_fit("kernel_ridge", X, y, tr, te, "regression"))

    glass = pd.read_csv(DATA / "matbench_glass.csv")
    col = "composition" if "composition" in glass else glass.columns[1]
    Xg = np.asarray(MagpieFeaturizer(composition_column=col).fit_transform(glass[[col]]), dtype=float)
    yg = glass["gfa"].astype(str).to_numpy()
    tr, te = next(KFold(5, shuffle=True, random_state=SEED).split(Xg))
    out["glass"] = [_fit(m, Xg, yg, tr, te, "classification") for m in ("rf", "nystroem_logistic")]

    path = ROOT / "benchmarks" / "automl" / "results" / "standins_vs_rf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main()
