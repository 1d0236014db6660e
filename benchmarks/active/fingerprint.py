"""Fingerprints of planner.active's suggestions and backtest files for fixed seeds.

A refactor of planner.active that is meant to change nothing (issue 18's module splits) must
give the same hashes before and after, in the same environment:

    taskset -c 0 env OMP_NUM_THREADS=1 python benchmarks/active/fingerprint.py after.json
    diff benchmarks/active/results/fingerprint_issue18.json after.json

Each entry: sha256 (16 hex) of the suggestion table written with 17 significant digits, then of
its metadata without ``seconds``; backtest files likewise (summary.csv without timing columns).
The committed file was recorded on the code before issue 18's active split (and matched after).
"""
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from planner.active import ContinuousDesign, LinearConstraint, PoolDesign, backtest, suggest

torch.set_num_threads(1)
warnings.simplefilter("ignore")

D = os.environ.get("PLANNER_DATASETS") or str((Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets").resolve())
out = {}
def meta(m):
    m = {k: v for k, v in dict(m).items() if k != "seconds"}
    return hashlib.sha256(json.dumps(m, sort_keys=True, default=str).encode()).hexdigest()[:16]
def h(frame):
    return hashlib.sha256(frame.to_csv(float_format="%.17g").encode()).hexdigest()[:16]
ag = pd.read_csv(f"{D}/liang2021_pvlab/AgNP_dataset.csv")
inp = list(ag.columns[:-1])
ag = ag.groupby(inp, as_index=False, sort=False)["loss"].mean()
for seed in (0, 1, 7):
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ag), 12, replace=False)
    obs = ag.iloc[idx]
    for strat, sur in ((None, "gp"), ("qlognei", "gp"), ("greedy", "rf"), ("ucb", "gp"), ("thompson", "gp")):
        try:
            r = suggest(obs[inp], obs[["loss"]], design=PoolDesign(ag[inp], inputs=inp), targets=[("loss", "min")], n=3, strategy=strat, surrogate=sur, seed=seed)
            out[f"agnp s{seed} {strat} {sur}"] = h(r.table) + " " + meta(r.metadata)
        except Exception as e:
            out[f"agnp s{seed} {strat} {sur}"] = f"ERR {type(e).__name__}: {e}"[:200]
oer = pd.read_csv(f"{D}/olympus_oer_plates/plate_3496/data_with_header.csv")
fr = [c for c in oer.columns if c.endswith("_load")]
tgt = [c for c in oer.columns if c not in fr][0]
for seed in (0, 3):
    obs = oer.sample(10, random_state=seed)
    des = ContinuousDesign(bounds={c: (0.0, 1.0) for c in fr}, constraints=(LinearConstraint({c: 1.0 for c in fr}, "==", 1.0),), n_discrete=512)
    r = suggest(obs[fr], obs[[tgt]], design=des, targets=[(tgt, "min")], n=2, seed=seed)
    out[f"oer cont s{seed}"] = h(r.table) + " " + meta(r.metadata)
    r = suggest(obs[fr], obs[[tgt]], design=PoolDesign(oer[fr], inputs=fr), targets=[(tgt, "min")], n=2, seed=seed, surrogate="robust")
    out[f"oer robust s{seed}"] = h(r.table) + " " + meta(r.metadata)
rx = pd.read_csv(f"{D}/olympus_redoxmers/data_with_header.csv").sample(300, random_state=0)
ri = ["r1_label", "r3_label", "r4_label", "r5_label"]
rt = [("abs_lam_diff", "min"), ("ered", "min")]
obs = rx.sample(15, random_state=2)
r = suggest(obs[ri], obs[["abs_lam_diff", "ered"]], design=PoolDesign(rx[ri], inputs=ri), targets=rt, n=2, seed=5)
out["redox mo"] = h(r.table) + " " + meta(r.metadata)
bt = backtest(ag.head(60), inputs=inp, targets=[("loss", "min")], strategies=["random", "greedy@rf", "qlognei"], n_seeds=2, n_initial=3, batch_size=2, budget=8, n_jobs=1)
out["bt runs"] = h(bt.runs if hasattr(bt, "runs") else pd.DataFrame())
with tempfile.TemporaryDirectory() as d:
    bt.to_dir(pathlib.Path(d) / "r")
    for p in sorted((pathlib.Path(d) / "r").iterdir()):
        if p.name == "summary.csv":
            s = pd.read_csv(p)
            out["bt file summary.csv"] = h(s[[c for c in s.columns if "seconds" not in c]])
        elif p.suffix == ".csv":
            out[f"bt file {p.name}"] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        else:
            out[f"bt file {p.name}"] = "present"
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
print(json.dumps(out, indent=1, sort_keys=True))
