"""Nested evaluation of planner's calibrated prediction intervals (issue 15).

For each outer fold (never seen by the search or the calibration): ``run_search`` on the
training fold with a small time budget, ``refit`` of the final model (the selected ensemble)
with its out-of-fold predictions and applicability domain, then ``predict`` on the test fold
with conformal intervals at 80/90/95 %. Recorded per fold: coverage of each level, mean
width over the target's standard deviation, the same for the uncalibrated
``prediction ± z * std`` (z = 1.282/1.645/1.960), and coverage inside / outside the
applicability domain. Classification: coverage and mean size of the LAC prediction sets, and
of the naive set (most probable classes until their probabilities sum to the level).

Usage (one core, one thread; see README.md for the exact commands of the committed results):

    taskset -c 0 env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        .venv/bin/python benchmarks/calibration/run_calibration.py --preset lce --timeout 20
    .venv/bin/python benchmarks/calibration/run_calibration.py --report   # rebuild results/RESULTS.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LEVELS = (0.8, 0.9, 0.95)


def _protocol() -> Any:
    """The AutoML benchmark's dataset presets and outer folds (one protocol, not two)."""
    spec = importlib.util.spec_from_file_location("matbench_protocol", HERE.parent / "automl" / "matbench_protocol.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _naive_sets(P: np.ndarray, level: float) -> list[set[int]]:
    out = []
    for row in P:
        order = np.argsort(-row)
        k = int(np.searchsorted(np.cumsum(row[order]), level - 1e-12) + 1)
        out.append(set(order[: min(k, len(row))].tolist()))
    return out


def run_fold(X, y, groups, roles, train, test, *, task, timeout, space, seed, storage) -> dict[str, Any]:
    from scipy.stats import norm

    from planner.automl import refit, run_search

    Xtr, ytr = X.iloc[train].reset_index(drop=True), y.iloc[train].reset_index(drop=True)
    gtr = groups.iloc[train].reset_index(drop=True) if groups is not None else None
    start = time.perf_counter()
    study = run_search(Xtr, ytr, task=task, search_space=space, storage_url=storage, study_name=f"cal-{time.time_ns()}",
                       n_trials=None, timeout_s=timeout, seed=seed, groups=gtr, column_roles=roles)
    search_s = time.perf_counter() - start
    fitted = refit(study, Xtr, ytr, column_roles=roles, ensemble=True, groups=gtr)
    refit_s = time.perf_counter() - start - search_s
    Xte, yte = X.iloc[test].reset_index(drop=True), y.iloc[test].to_numpy()
    gte = groups.iloc[test].astype(str).to_numpy() if groups is not None else None
    out = fitted.predict(Xte, interval=list(LEVELS), groups=gte)
    n_complete = sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))
    row: dict[str, Any] = {
        "n_train": int(len(train)), "n_test": int(len(test)), "search_s": round(search_s, 1), "refit_calibrate_s": round(refit_s, 1),
        "n_complete_trials": n_complete, "pipeline": fitted.spec.get("pipeline"), "calibration": fitted.spec["calibration"].get("note"),
        "oof_source": fitted.spec["calibration"].get("source"), "notes": out.attrs.get("notes", []),
        "in_domain_share": float(out["in_domain"].mean()),
    }
    inside = out["in_domain"].to_numpy(bool)
    if task == "regression":
        sd = float(np.std(y.to_numpy(float)))
        std = out["std"].to_numpy(float)
        row["has_std"] = bool(np.isfinite(std).all())
        for lv in LEVELS:
            sfx = f"_{int(lv * 100)}"
            lo, hi = out[f"lower{sfx}"].to_numpy(float), out[f"upper{sfx}"].to_numpy(float)
            hit = (yte >= lo) & (yte <= hi)
            row[f"coverage{sfx}"] = float(hit.mean())
            row[f"width{sfx}"] = float(np.mean(hi - lo) / sd)
            row[f"coverage_in_domain{sfx}"] = float(hit[inside].mean()) if inside.any() else None
            row[f"coverage_out_domain{sfx}"] = float(hit[~inside].mean()) if (~inside).any() else None
            if row["has_std"]:
                z = norm.ppf(0.5 + lv / 2)
                pred = out["prediction"].to_numpy(float)
                row[f"naive_coverage{sfx}"] = float(np.mean(np.abs(yte - pred) <= z * std))
                row[f"naive_width{sfx}"] = float(np.mean(2 * z * std) / sd)
        row["mae"] = float(np.mean(np.abs(yte - out["prediction"].to_numpy(float))))
    else:
        classes = [str(c) for c in fitted.spec["classes"]]
        P = out[[f"proba_{c}" for c in fitted.spec["classes"]]].to_numpy(float)
        ytxt = pd.Series(yte).astype(str).to_numpy()
        yidx = np.array([classes.index(v) for v in ytxt])
        for lv in LEVELS:
            sfx = f"_{int(lv * 100)}"
            sets = [s.split("|") if s else [] for s in out[f"set{sfx}"]]
            hit = np.array([t in s for t, s in zip(ytxt, sets, strict=True)])
            row[f"coverage{sfx}"] = float(hit.mean())
            row[f"set_size{sfx}"] = float(np.mean([len(s) for s in sets]))
            row[f"coverage_in_domain{sfx}"] = float(hit[inside].mean()) if inside.any() else None
            naive = _naive_sets(P, lv)
            row[f"naive_coverage{sfx}"] = float(np.mean([i in s for i, s in zip(yidx, naive, strict=True)]))
            row[f"naive_set_size{sfx}"] = float(np.mean([len(s) for s in naive]))
        row["accuracy"] = float(np.mean(out["prediction"].astype(str).to_numpy() == ytxt))
    return row


def benchmark(name: str, cfg: dict[str, Any], args: argparse.Namespace, proto: Any) -> dict[str, Any]:
    X, y, groups, roles = proto.load_table(cfg)
    task = cfg["task"]
    space = args.space or ("small_data" if len(y) < 300 else "default")
    splits = proto.outer_splits(X, groups)[: args.folds]
    record: dict[str, Any] = {
        "dataset": name, "task": task, "n_rows": int(len(y)), "target_std": float(np.std(y)) if task == "regression" else None,
        "outer": f"{'GroupKFold' if groups is not None else 'KFold'}({proto.N_OUTER}, shuffle=True, random_state={proto.OUTER_SEED})",
        "folds_run": len(splits), "timeout_s_per_fold": args.timeout, "space": space, "seed": args.seed,
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "machine": {"cpus": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)), "loadavg_start": os.getloadavg()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "folds": [],
    }
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        storage = f"sqlite:///{Path(tmp) / 'optuna.db'}"
        for k, (train, test) in enumerate(splits):
            row = {"fold": k, **run_fold(X, y, groups, roles, train, test, task=task, timeout=args.timeout, space=space, seed=args.seed, storage=storage)}
            record["folds"].append(row)
            print(json.dumps(row), flush=True)
    record["machine"]["loadavg_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    tmpf = out.with_suffix(".json.tmp")
    tmpf.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmpf, out)
    return record


def _fmt(values: list[float | None], pct: bool = True) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    mean = np.mean(vals)
    return f"{mean:.0%} (min {min(vals):.0%})" if pct else f"{mean:.2f}"


def report() -> str:
    lines = [
        "# Calibration benchmark results",
        "",
        "Generated by `run_calibration.py --report` from the JSON records in this folder. Coverage: share of",
        "held-out rows inside the interval (mean over outer folds, lowest fold in brackets); width: mean interval",
        "width / the target's standard deviation. `naive` is the uncalibrated `prediction ± z·std` (regression)",
        "or the most probable classes up to the level (classification). Timings were taken on a shared, loaded",
        "2-core machine, one core per run.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        rec = json.loads(path.read_text())
        folds = rec["folds"]
        lines += [f"## {rec['dataset']} ({rec['task']}, {rec['n_rows']} rows, {rec['outer']}, {rec['folds_run']} folds, "
                  f"{rec['timeout_s_per_fold']} s search per fold)", "", f"Command: `{rec['command']}`", ""]
        if rec["task"] == "regression":
            lines += ["| level | coverage | width / std | naive coverage | naive width / std | coverage in domain | coverage out of domain |",
                      "|---|---|---|---|---|---|---|"]
            for lv in LEVELS:
                s = f"_{int(lv * 100)}"
                lines.append(
                    f"| {lv:.0%} | {_fmt([f[f'coverage{s}'] for f in folds])} | {_fmt([f[f'width{s}'] for f in folds], False)} | "
                    f"{_fmt([f.get(f'naive_coverage{s}') for f in folds])} | {_fmt([f.get(f'naive_width{s}') for f in folds], False)} | "
                    f"{_fmt([f.get(f'coverage_in_domain{s}') for f in folds])} | {_fmt([f.get(f'coverage_out_domain{s}') for f in folds])} |"
                )
            lines += ["", "Per fold (90 %): " + ", ".join(f"{f['coverage_90']:.0%}" for f in folds)
                      + "; naive: " + ", ".join(f"{f['naive_coverage_90']:.0%}" if f.get("naive_coverage_90") is not None else "no std" for f in folds)
                      + "; MAE " + ", ".join(f"{f['mae']:.3g}" for f in folds)]
        else:
            lines += ["| level | set coverage | mean set size | naive coverage | naive set size |", "|---|---|---|---|---|"]
            for lv in LEVELS:
                s = f"_{int(lv * 100)}"
                lines.append(f"| {lv:.0%} | {_fmt([f[f'coverage{s}'] for f in folds])} | {_fmt([f[f'set_size{s}'] for f in folds], False)} | "
                             f"{_fmt([f[f'naive_coverage{s}'] for f in folds])} | {_fmt([f[f'naive_set_size{s}'] for f in folds], False)} |")
            lines += ["", "Per fold (90 %): " + ", ".join(f"{f['coverage_90']:.0%}" for f in folds) + "; accuracy " + ", ".join(f"{f['accuracy']:.3f}" for f in folds)]
        lines += ["", "Rows inside the applicability domain per fold: " + ", ".join(f"{f['in_domain_share']:.0%}" for f in folds),
                  "Complete trials per fold: " + ", ".join(str(f["n_complete_trials"]) for f in folds)
                  + "; search + refit/calibration seconds: " + ", ".join(f"{f['search_s']}+{f['refit_calibrate_s']}" for f in folds),
                  "Out-of-fold source: " + ", ".join(sorted({str(f['oof_source']) for f in folds})), ""]
    text = "\n".join(lines)
    (RESULTS / "RESULTS.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", help="lce, llzo_log_cond, liverpool_rt (the AutoML suite) or expt_is_metal, glass")
    parser.add_argument("--timeout", type=float, default=20.0, help="search seconds per outer fold")
    parser.add_argument("--folds", type=int, default=5, help="outer folds to run (of 5)")
    parser.add_argument("--space", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        print(report())
        return
    proto = _protocol()
    presets = proto.PRESETS  # the AutoML harness's presets, Matbench composition tasks included
    if args.preset not in presets:
        parser.error(f"--preset must be one of {sorted(presets)}")
    benchmark(args.preset, presets[args.preset], args, proto)
    print(report())


if __name__ == "__main__":
    main()
