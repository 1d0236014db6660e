"""Matbench-style benchmark of the AutoML engine on any CSV, side by side with FLAML and a
default random forest.

Protocol: outer ``KFold(5, shuffle=True, random_state=18012019)`` (``GroupKFold`` with the
same shuffle seed when a group column is given); the whole planner search runs inside each
outer training fold with a fixed wall-clock budget; FLAML gets the same budget on the same
folds; MAE / RMSE (regression) or accuracy / ROC-AUC (classification) on the outer test folds.

Examples (from the repository root)::

    python benchmarks/automl/matbench_protocol.py --preset lce --budget-s 45
    python benchmarks/automl/matbench_protocol.py --csv data.csv --target y --task regression \\
        --drop id --group batch --budget-s 60
    python benchmarks/automl/matbench_protocol.py --throughput --preset lce --space fast --seconds 120
    python benchmarks/automl/matbench_protocol.py --report   # rebuild results/RESULTS.md

FLAML is not a project dependency: install it in the benchmark environment with
``pip install --no-deps flaml==2.7.0`` (``flaml[automl]`` pins ``xgboost<3`` and would
replace the project's ``xgboost-cpu``; its other extras are already installed). Without it,
``--methods`` must leave ``flaml`` out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DATASETS = (REPO / ".." / "shared" / "datasets").resolve()
RESULTS = Path(__file__).resolve().parent / "results"
OUTER_SEED = 18012019
N_OUTER = 5

PRESETS: dict[str, dict[str, Any]] = {
    "lce": {
        "csv": "kim2023_pnas_electrolyte_ce/CE_data_with_names.csv",
        "target": "LCE",
        "task": "regression",
        "drop": ["Electrolyte"],
    },
    "llzo_log_cond": {
        "csv": "llzo_doped_conductivity/llzo_dataset_clean.csv",
        "target": "log_cond",
        "task": "regression",
        "drop": ["source", "conductivity", "good_cond"],
    },
    "llzo_good_cond": {
        "csv": "llzo_doped_conductivity/llzo_dataset_clean.csv",
        "target": "good_cond",
        "task": "classification",
        "drop": ["source", "conductivity", "log_cond"],
    },
    "liverpool_rt": {
        "csv": "liverpool_li_ion_conductivity/LiIonDatabase.csv",
        "target": "log_target",
        "task": "regression",
        "drop": ["ID", "source", "target"],
        "query": "temperature >= 15 and temperature <= 35",
        "group": "composition",
        "roles": {"composition": "composition", "family": "categorical", "ChemicalFamily": "categorical", "temperature": "numeric"},
    },
    # Matbench v0.1 composition tasks (../shared/datasets/matbench_composition/PROVENANCE.md)
    "expt_is_metal": {
        "csv": "matbench_composition/matbench_expt_is_metal.csv",
        "target": "is_metal",
        "task": "classification",
        "metric": "balanced_accuracy",  # Matbench's metric; planner optimizes it (AutoGluon is given it too)
        "drop": ["mbid"],
        "roles": {"composition": "composition"},
    },
    "glass": {
        "csv": "matbench_composition/matbench_glass.csv",
        "target": "gfa",
        "task": "classification",
        "metric": "balanced_accuracy",  # Matbench's metric; planner optimizes it (AutoGluon is given it too)
        "drop": ["mbid"],
        "roles": {"composition": "composition"},
    },
    "mp_e_form": {
        "csv": "matbench_composition/matbench_mp_e_form.csv",
        "target": "e_form",
        "task": "regression",
        "drop": ["mbid"],
        "group": "composition",
        "roles": {"composition": "composition", "spg_num": "categorical", "crys_sys": "categorical"},
    },
}


# AutoGluon anchors (ag_runner.py, run by the benchmark environment's Python): method -> presets
AG_METHODS = {"ag_medium": "medium_quality", "ag_medium_frac": "medium_quality", "ag_best": "best_quality", "ag_best_frac": "best_quality"}
ANCHORS = ("flaml", "flaml_frac", "lgbm", *AG_METHODS)


def run_ag(Xf, y, train, test, *, task, budget_s, presets, ag_python) -> dict[str, Any]:
    """AutoGluon on precomputed features, in its own environment, pinned to this process's cores, one thread."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ag_runner", Path(__file__).resolve().parent / "ag_runner.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    out = runner.run_autogluon(Xf, y, train, test, task=task, budget_s=budget_s, presets=presets, ag_python=ag_python, cpus=cpus)
    return {**score(task, y.iloc[test].to_numpy(), out.pop("prediction"), out.pop("proba")), **out}


def load_table(cfg: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series, pd.Series | None, dict[str, str] | None]:
    path = Path(cfg["csv"])
    path = path if path.is_absolute() or path.exists() else DATASETS / path
    frame = pd.read_csv(path, encoding="utf-8-sig").dropna(how="all")
    if cfg.get("query"):
        frame = frame.query(cfg["query"])
    frame = frame[frame[cfg["target"]].notna()].reset_index(drop=True)
    y = frame[cfg["target"]]
    if cfg["task"] == "classification":
        y = y.map({True: 1, False: 0, "True": 1, "False": 0}).fillna(y).astype(int) if y.dtype == object or y.dtype == bool else y.astype(int)
    groups = frame[cfg["group"]].astype(str) if cfg.get("group") else None
    X = frame.drop(columns=[cfg["target"], *cfg.get("drop", [])])
    return X, y, groups, cfg.get("roles")


def outer_splits(X: pd.DataFrame, groups: pd.Series | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold, KFold

    if groups is None:
        return list(KFold(N_OUTER, shuffle=True, random_state=OUTER_SEED).split(X))
    return list(GroupKFold(N_OUTER, shuffle=True, random_state=OUTER_SEED).split(X, groups=groups))


def featurize_for_baselines(X: pd.DataFrame, roles: dict[str, str] | None, representation: str = "magpie") -> pd.DataFrame:
    """Composition strings become descriptors (row-wise, no learned state: no leakage):
    ``magpie`` (what planner offered before representations were a search choice) or
    ``fractions`` (plain element fractions, the anchors' other input)."""
    from planner.automl._build import composition_featurizer

    out = X.copy()
    for col, role in (roles or {}).items():
        if role == "composition":
            feats = composition_featurizer(col, representation).fit_transform(out[[col]])
            feats = pd.DataFrame(np.asarray(feats, dtype=float), index=out.index).add_prefix(f"{col}_")
            out = pd.concat([out.drop(columns=[col]), feats], axis=1)
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype("category")
    return out


def score(task: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None) -> dict[str, float]:
    from sklearn import metrics

    if task == "regression":
        return {"mae": float(metrics.mean_absolute_error(y_true, y_pred)), "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred)))}
    out = {"accuracy": float(metrics.accuracy_score(y_true, y_pred)), "balanced_accuracy": float(metrics.balanced_accuracy_score(y_true, y_pred))}
    if proba is not None:
        out["roc_auc"] = float(metrics.roc_auc_score(y_true, proba[:, 1]))
    return out


def run_planner(X, y, groups, roles, train, test, *, task, budget_s, space, seed, study_dir, reserve, metric=None) -> dict[str, Any]:
    """What `planner run --timeout budget_s` does, on the outer training fold; scored on the test fold.

    The search keeps back the predicted refit time itself (``reserve_refit``), then
    :func:`planner.automl.fit_final` refits the best pipeline and, when it fits in the time
    left, the selected ensemble, in killable processes. ``seconds`` is search + refit, to
    compare with the budget. ``reserve`` is unused (kept for old command lines).
    """
    from optuna.trial import TrialState

    from planner.automl import baselines, fit_final, run_search

    start = time.perf_counter()
    name = f"bench-{int(time.time() * 1000)}"
    storage = f"sqlite:///{study_dir / 'optuna.db'}"
    X_train, y_train = X.iloc[train].reset_index(drop=True), y.iloc[train].to_numpy()
    g_train = None if groups is None else groups.iloc[train].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_search(
            X_train, y_train, task=task, search_space=space, storage_url=storage, study_name=name, n_trials=None,
            timeout_s=budget_s, seed=seed, groups=g_train, column_roles=roles, reserve_refit=True, metric=metric,
            feature_cache=study_dir / "features",
        )
        searched = time.perf_counter() - start
        fitted = fit_final(study, X_train, y_train, column_roles=roles, timeout_s=budget_s - searched, grace_s=0.05 * budget_s)
    seconds = round(time.perf_counter() - start, 2)
    X_test = X.iloc[test]
    pred = fitted.predict(X_test)
    proba = pred[[c for c in pred.columns if c.startswith("proba_")]].to_numpy() if task == "classification" else None
    states = [t.state for t in study.trials]
    base = baselines(study)
    return {
        **score(task, y.iloc[test].to_numpy(), pred["prediction"].to_numpy(), proba),
        "seconds": seconds,
        "search_seconds": round(searched, 2),
        "budget_s": budget_s,
        "n_trials": len(study.trials),
        "n_complete": states.count(TrialState.COMPLETE),
        "n_pruned": states.count(TrialState.PRUNED),
        "n_failed": states.count(TrialState.FAIL),
        "pipeline": fitted.spec["pipeline"],
        "final": fitted.spec.get("final"),
        "baselines_cv": {r.baseline: r.mean for r in base.itertuples()},
    }


def _flaml_balanced_accuracy(X_val, y_val, estimator, labels, X_train, y_train, *args, **kwargs):
    """FLAML custom metric (its documented signature): 1 - balanced accuracy of the labels it predicts."""
    from sklearn.metrics import balanced_accuracy_score

    score = float(balanced_accuracy_score(y_val, estimator.predict(X_val)))
    return 1.0 - score, {"balanced_accuracy": score}


def run_flaml(Xf, y, train, test, *, task, budget_s, seed, metric=None) -> dict[str, Any]:
    """FLAML on precomputed features (one core, same budget), optimizing the preset's metric:
    MAE, balanced accuracy (a custom metric: FLAML has none built in) or else ROC-AUC."""
    from flaml import AutoML

    automl = AutoML()
    start = time.perf_counter()
    objective = "mae" if task == "regression" else (_flaml_balanced_accuracy if metric == "balanced_accuracy" else "roc_auc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        automl.fit(Xf.iloc[train], y.iloc[train], task=task, time_budget=budget_s, metric=objective, seed=seed, n_jobs=1, verbose=0)
    proba = automl.predict_proba(Xf.iloc[test]) if task == "classification" else None
    pred = automl.predict(Xf.iloc[test])
    return {
        **score(task, y.iloc[test].to_numpy(), np.asarray(pred), proba),
        "seconds": round(time.perf_counter() - start, 1),
        "best_estimator": automl.best_estimator,
        "metric": objective if isinstance(objective, str) else "balanced_accuracy",
    }


def run_lgbm(Xf, y, train, test, *, task, seed) -> dict[str, Any]:
    """A default LightGBM (library defaults, one thread) on the anchors' descriptors; ``seconds`` is fit + predict."""
    import lightgbm

    start = time.perf_counter()
    cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    model = cls(n_jobs=1, random_state=seed, verbose=-1).fit(Xf.iloc[train], y.iloc[train])
    proba = model.predict_proba(Xf.iloc[test]) if task == "classification" else None
    pred = model.predict(Xf.iloc[test])
    return {**score(task, y.iloc[test].to_numpy(), np.asarray(pred), proba), "seconds": round(time.perf_counter() - start, 1)}


def run_rf(Xf, y, train, test, *, task, seed) -> dict[str, Any]:
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    start = time.perf_counter()
    prep = make_column_transformer(
        (SimpleImputer(strategy="median", keep_empty_features=True), make_column_selector(dtype_include="number")),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", sparse_output=False)), make_column_selector(dtype_exclude="number")),
    )
    rf = RandomForestClassifier(random_state=seed, n_jobs=1) if task == "classification" else RandomForestRegressor(random_state=seed, n_jobs=1)
    Xo = Xf.astype({c: object for c in Xf.columns if isinstance(Xf[c].dtype, pd.CategoricalDtype)})
    model = make_pipeline(prep, rf).fit(Xo.iloc[train], y.iloc[train])
    proba = model.predict_proba(Xo.iloc[test]) if task == "classification" else None
    return {**score(task, y.iloc[test].to_numpy(), model.predict(Xo.iloc[test]), proba), "seconds": round(time.perf_counter() - start, 1)}


def benchmark(name: str, cfg: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    X, y, groups, roles = load_table(cfg)
    task = cfg["task"]
    space = args.space or ("small_data" if len(y) < 300 else "default")
    splits = outer_splits(X, groups)
    methods = args.methods.split(",")
    Xf = featurize_for_baselines(X, roles) if {"flaml", "rf", "lgbm", "ag_medium", "ag_best"} & set(methods) else None
    has_comp = "composition" in (roles or {}).values()
    Xfrac = featurize_for_baselines(X, roles, "fractions") if has_comp and {"flaml_frac", "rf_frac", "ag_medium_frac", "ag_best_frac"} & set(methods) else None
    folds = [int(f) for f in args.folds.split(",")] if args.folds else list(range(len(splits)))
    study_dir = RESULTS / ".studies" / name
    study_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "dataset": name,
        "config": cfg,
        "task": task,
        "n_rows": int(len(y)),
        "n_features": int(X.shape[1]),
        "outer": f"{'GroupKFold' if groups is not None else 'KFold'}({N_OUTER}, shuffle=True, random_state={OUTER_SEED})",
        "budget_s_per_fold": args.budget_s,
        "planner_space": space,
        "methods": methods,
        "folds_run": folds,
        "folds_note": args.folds_note,
        "command": " ".join(f"{k}={shlex.quote(v)}" for k, v in os.environ.items() if k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONPATH")) + " python " + " ".join(shlex.quote(a) for a in getattr(args, "argv", None) or sys.argv),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "folds": [],
    }
    if args.merge:
        existing = RESULTS / f"{name}.json"
        if not existing.is_file():
            raise SystemExit(f"error: --merge adds methods to an existing record, and {existing} does not exist; run without --merge first")
        check_mergeable(json.loads(existing.read_text()), record, base_path=existing, new_path="this run")
    for k, (train, test) in enumerate(splits):
        if k not in folds:
            continue
        row: dict[str, Any] = {"fold": k, "n_train": int(len(train)), "n_test": int(len(test))}
        if "planner" in methods:
            row["planner"] = run_planner(X, y, groups, roles, train, test, task=task, budget_s=args.budget_s, space=space, seed=args.seed, study_dir=study_dir, reserve=args.refit_reserve, metric=cfg.get("metric"))
        if "flaml" in methods:
            row["flaml"] = run_flaml(Xf, y, train, test, task=task, budget_s=args.budget_s, seed=args.seed, metric=cfg.get("metric"))
        if "flaml_frac" in methods and Xfrac is not None:
            row["flaml_frac"] = run_flaml(Xfrac, y, train, test, task=task, budget_s=args.budget_s, seed=args.seed, metric=cfg.get("metric"))
        if "lgbm" in methods:
            row["lgbm"] = run_lgbm(Xf, y, train, test, task=task, seed=args.seed)
        if "rf" in methods:
            row["rf"] = run_rf(Xf, y, train, test, task=task, seed=args.seed)
        if "rf_frac" in methods and Xfrac is not None:
            row["rf_frac"] = run_rf(Xfrac, y, train, test, task=task, seed=args.seed)
        for method in (m for m in methods if m in AG_METHODS and (Xfrac if m.endswith("_frac") else Xf) is not None):
            feats = Xfrac if method.endswith("_frac") else Xf
            try:
                row[method] = run_ag(feats, y, train, test, task=task, budget_s=args.budget_s, presets=AG_METHODS[method], ag_python=args.ag_python)
            except RuntimeError as err:  # recorded, not fatal: the other methods' folds are kept; rerun it with --merge
                row[method] = {"error": str(err)}
        record["folds"].append(row)
        print(json.dumps(row), flush=True)
    record["machine"]["loadavg_end"] = os.getloadavg()
    out = RESULTS / f"{name}.json"
    if args.merge:  # checked before the run too (check_mergeable), so a mismatch never costs a run
        record = merge_records(json.loads(out.read_text()), record, how="merge", source=None, replace=True)
    record["summary"] = summarize(record)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, out)
    return record


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    metrics = ("mae", "rmse") if record["task"] == "regression" else ("balanced_accuracy", "roc_auc", "accuracy")
    out: dict[str, Any] = {}
    for method in [*record["methods"], *(["planner_single"] if any("planner_single" in f for f in record["folds"]) else [])]:
        for m in metrics:
            vals = [f[method][m] for f in record["folds"] if m in f.get(method, {})]
            if vals:
                out[f"{method}_{m}"] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "folds": [f["fold"] for f in record["folds"] if m in f.get(method, {})]}
    key = metrics[0]
    for anchor in ANCHORS:
        if {"planner", anchor} <= set(record["methods"]):
            pairs = [(f["fold"], f["planner"][key] / f[anchor][key]) for f in record["folds"] if key in f.get("planner", {}) and key in f.get(anchor, {})]
            if pairs:
                ratios, folds = [r for _, r in pairs], {k for k, _ in pairs}
                of_means = np.mean([f["planner"][key] for f in record["folds"] if f["fold"] in folds]) / np.mean([f[anchor][key] for f in record["folds"] if f["fold"] in folds])
                out[f"{key}_ratio_planner_over_{anchor}"] = {"mean": float(np.mean(ratios)), "std": float(np.std(ratios)), "per_fold": ratios, "folds": sorted(folds), "of_means": float(of_means)}
    if "planner" in record["methods"]:
        planned = [f["planner"] for f in record["folds"] if "planner" in f]
        out["planner_trials_per_fold"] = [p["n_trials"] for p in planned]
        out["planner_complete_trials_per_fold"] = [p.get("n_complete") for p in planned]
        budget = record["budget_s_per_fold"]
        out["planner_wall_over_budget_per_fold"] = [round(p["seconds"] / budget, 3) for p in planned]
    return out


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    """What two records must share to stand in one table: the data, the outer folds and the budget."""
    cfg = record["config"]
    return {
        "csv": Path(cfg["csv"]).name, "target": cfg["target"], "task": record["task"], "drop": sorted(cfg.get("drop") or []),
        "group": cfg.get("group"), "query": cfg.get("query"), "n_rows": record["n_rows"], "outer folds": record["outer"],
        "budget_s_per_fold": record["budget_s_per_fold"],
    }


def check_mergeable(base: dict[str, Any], new: dict[str, Any], *, base_path: Path | str, new_path: Path | str) -> None:
    """Refuse (SystemExit 2, naming the key, both values and both files) to mix records of different protocols."""
    a, b = _identity(base), _identity(new)
    diff = [f"{k}: {a[k]!r} in {base_path} but {b[k]!r} in {new_path}" for k in a if a[k] != b[k]]
    if diff:
        raise SystemExit(f"error: cannot merge records of different datasets, folds or budgets ({'; '.join(diff)}); run with the same preset, --budget-s and folds, or use another --name")


def merge_records(base: dict[str, Any], new: dict[str, Any], *, how: str, source: str | None, replace: bool, methods: list[str] | None = None) -> dict[str, Any]:
    """``base`` with the per-fold entries of ``methods`` (default: all of ``new``'s) copied from ``new``.

    ``replace`` lets an entry of ``base`` be overwritten (``--merge`` reruns a method; ``--combine``
    refuses unless the methods were named). Each merge is logged in ``merged`` with its command,
    load average and start time, since the methods of one fold then ran at different times.
    """
    check_mergeable(base, new, base_path=base["dataset"], new_path=source or "this run")
    methods = [m for m in (methods or new["methods"]) if any(m in f for f in new["folds"])]
    rows = {f["fold"]: f for f in base["folds"]}
    clash = sorted({m for f in new["folds"] if f["fold"] in rows for m in methods if m in rows[f["fold"]] and m in f})
    if clash and not replace:
        raise SystemExit(f"error: {source} and {base['dataset']} both hold {', '.join(clash)}; name the methods to copy (and replace) with --methods")
    for f in new["folds"]:
        row = rows.setdefault(f["fold"], {k: f[k] for k in ("fold", "n_train", "n_test")})
        if (row["n_train"], row["n_test"]) != (f["n_train"], f["n_test"]):
            raise SystemExit(f"error: outer fold {f['fold']} has {row['n_train']}/{row['n_test']} train/test rows in {base['dataset']} but {f['n_train']}/{f['n_test']} in {source or 'this run'}: not the same folds")
        row.update({m: f[m] for m in methods if m in f})
    out = {**base, "folds": [rows[k] for k in sorted(rows)], "folds_run": sorted(rows)}
    out["methods"] = [*base["methods"], *(m for m in methods if m not in base["methods"])]
    log = {"how": how, "methods": methods, "command": new["command"], "machine": new["machine"], "started": new["started"], "affinity": new.get("affinity")}
    out["merged"] = [*base.get("merged", []), *({**m, "via": source} for m in new.get("merged", [])), {**log, "source": source}]
    out["summary"] = summarize(out)
    return out


def combine(name: str, other: Path, methods: list[str] | None) -> dict[str, Any]:
    """Copy the per-fold method entries of ``other`` into ``results/<name>.json`` (atomically)."""
    target = RESULTS / f"{name}.json"
    for path in (target, other):
        if not path.is_file():
            raise SystemExit(f"error: no record {path}: --combine copies into an existing results/<name>.json from another record")
    record = merge_records(json.loads(target.read_text()), json.loads(other.read_text()), how="combine", source=str(other), replace=methods is not None, methods=methods)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, target)
    return record


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Trials per minute of the search on the whole table, one worker per core."""
    from planner.automl import run_search

    cfg = PRESETS[args.preset]
    X, y, groups, roles = load_table(cfg)
    space = args.space or "fast"
    study_dir = RESULTS / ".studies" / "throughput"
    study_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    study = run_search(
        X, y, task=cfg["task"], search_space=space, storage_url=f"sqlite:///{study_dir / 'optuna.db'}",
        study_name=f"tp-{space}-{int(time.time())}", n_trials=None, timeout_s=args.seconds, seed=args.seed,
        groups=groups, column_roles=roles, n_workers=args.workers,
    )
    elapsed = time.perf_counter() - start
    states = pd.Series([t.state.name for t in study.trials]).value_counts().to_dict()
    record = {
        "dataset": args.preset,
        "space": space,
        "n_workers": args.workers,
        "seconds": round(elapsed, 1),
        "n_trials": len(study.trials),
        "trials_per_minute": round(60 * len(study.trials) / elapsed, 2),
        "states": states,
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "machine": {"cpus": os.cpu_count(), "loadavg_end": os.getloadavg()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = RESULTS / f"throughput_{args.preset}_{space}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))
    return record


def scale(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Trials per minute and wall time against the budget at several table sizes (seeded row
    subsamples of a preset), one process, what `planner run --timeout` does (search + refit)."""
    from optuna.trial import TrialState

    from planner.automl import fit_final, run_search

    cfg = PRESETS[args.preset]
    X, y, groups, roles = load_table(cfg)
    study_dir = RESULTS / ".studies" / "scale"
    study_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for n in [int(r) for r in args.rows.split(",")]:
        rng = np.random.default_rng(args.seed)
        keep = np.sort(rng.choice(len(y), size=min(n, len(y)), replace=False))
        Xs, ys = X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
        gs = None if groups is None else groups.iloc[keep].reset_index(drop=True)
        start = time.perf_counter()
        error = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study = run_search(
                    Xs, ys, task=cfg["task"], search_space=args.space or "default", storage_url=f"sqlite:///{study_dir / 'optuna.db'}",
                    study_name=f"scale-{n}-{int(time.time())}", n_trials=None, timeout_s=args.seconds, seed=args.seed, groups=gs,
                    column_roles=roles, reserve_refit=True, feature_cache=study_dir / "features",
                )
                searched = time.perf_counter() - start
                fitted = fit_final(study, Xs, ys, column_roles=roles, timeout_s=args.seconds - searched, grace_s=0.05 * args.seconds)
        except Exception as err:  # noqa: BLE001 - recorded: a size that does not fit the budget is a result
            error, study, fitted, searched = f"{type(err).__name__}: {err}", None, None, time.perf_counter() - start
        wall = time.perf_counter() - start
        trials = study.trials if study is not None else []
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        record = {
            "dataset": args.preset,
            "rows": int(len(ys)),
            "budget_s": args.seconds,
            "wall_s": round(wall, 1),
            "wall_over_budget": round(wall / args.seconds, 3),
            "search_s": round(searched, 1),
            "n_trials_finished": sum(t.state.is_finished() for t in trials),
            "n_complete": len(complete),
            "n_complete_full_fidelity": sum(float(t.user_attrs.get("fidelity", 1.0)) >= 1.0 for t in complete),
            "trials_per_minute": round(60 * sum(t.state.is_finished() for t in trials) / max(searched, 1e-9), 2),
            "final": None if fitted is None else {"pipeline": fitted.spec["pipeline"], **(fitted.spec.get("final") or {})},
            "error": error,
            "command": " ".join(f"{k}={shlex.quote(v)}" for k, v in os.environ.items() if k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")) + " python " + " ".join(shlex.quote(a) for a in sys.argv),
            "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "machine": {"cpus": os.cpu_count(), "loadavg_end": os.getloadavg()},
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        print(json.dumps(record), flush=True)
        records.append(record)
    out = RESULTS / f"scale_{args.preset}_{int(args.seconds)}s.json"
    out.write_text(json.dumps(records, indent=2) + "\n")
    return records


def report() -> str:
    """Rebuild results/RESULTS.md from the JSON records."""
    lines = ["# AutoML benchmark results", "", "Generated by `python benchmarks/automl/matbench_protocol.py --report` from the JSON files beside it;", "each JSON file holds the exact command that produced it. FLAML 2.7.0 was installed with",
             "`pip install --no-deps --target DIR flaml==2.7.0` and DIR put on `PYTHONPATH` (see README.md).",
             "2 cores shared with other work: the load averages are recorded; read the ratios, not absolute speed.", ""]
    for path in sorted(RESULTS.glob("*.json")):
        rec = json.loads(path.read_text())
        if path.name.startswith(("throughput_", "scale_")) or not isinstance(rec, dict) or "summary" not in rec:
            continue  # other records (e.g. standins_vs_rf.json) have their own tables in README.md
        s = rec["summary"]
        key = "mae" if rec["task"] == "regression" else ("balanced_accuracy" if any("balanced_accuracy" in f.get(m, {}) for f in rec["folds"] for m in rec["methods"]) else "accuracy")
        lines += [f"## {rec['dataset']} ({rec['task']}, n={rec['n_rows']})", "", f"- outer folds: `{rec['outer']}`; budget {rec['budget_s_per_fold']} s per fold per AutoML method; planner space `{rec['planner_space']}`",
                  f"- command: `{rec['command']}`", f"- load average (1/5/15 min) at start {rec['machine']['loadavg_start']}, end {rec['machine'].get('loadavg_end')} on {rec['machine']['cpus']} cores"]
        lines += [f"- {m['how']} of {', '.join(m['methods'])}{' from ' + m['source'] if m.get('source') else ''} ({m['started']}, load average at start {m['machine']['loadavg_start']}, end {m['machine'].get('loadavg_end')}): `{m['command']}`" for m in rec.get("merged", [])] + [""]
        metrics = ("mae", "rmse") if rec["task"] == "regression" else (("balanced_accuracy", "roc_auc", "accuracy") if key == "balanced_accuracy" else ("accuracy", "roc_auc"))
        if rec.get("folds_run") is not None and len(rec["folds_run"]) < N_OUTER:
            what = f"outer folds {rec['folds_run']} of {N_OUTER}: {rec['folds_note']}" if rec.get("folds_note") else f"**preliminary**: outer folds {rec['folds_run']} of {N_OUTER} only"
            lines += [f"- {what}", ""]
        short = {m: [f["fold"] for f in rec["folds"] if m in f] for m in rec["methods"]}
        short = {m: k for m, k in short.items() if len(k) < N_OUTER and len(k) < len(rec["folds"])}
        if short:  # a merged or combined record whose methods ran on different folds
            lines += [f"- **preliminary** for {m}: outer folds {k} of {N_OUTER} only (ratios compare the folds both methods ran)" for m, k in short.items()] + [""]
        methods = list(rec["methods"]) + (["planner_single"] if any("planner_single" in f for f in rec["folds"]) else [])
        lines.append("| method | " + " | ".join(f"{m} (mean ± std over folds)" for m in metrics) + " |")
        lines.append("|---|" + "---|" * len(metrics))
        for method in methods:
            cells = [f"{s[f'{method}_{m}']['mean']:.4f} ± {s[f'{method}_{m}']['std']:.4f}" if f"{method}_{m}" in s else "-" for m in metrics]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        plain = "Magpie descriptors" if "composition" in (rec["config"].get("roles") or {}).values() else "the table's columns"
        for anchor in ANCHORS:
            what = {"flaml": "FLAML", "lgbm": "default LightGBM", "ag_medium": "AutoGluon medium_quality", "ag_best": "AutoGluon best_quality"}[anchor.removesuffix("_frac")]
            what += " on element fractions" if anchor.endswith("_frac") else f" on {plain}"
            ratio = s.get(f"{key}_ratio_planner_over_{anchor}")
            if ratio:
                better = "below 1: planner better" if key == "mae" else "above 1: planner better"
                worse = [k for k, r in zip(ratio.get("folds", range(len(ratio["per_fold"]))), ratio["per_fold"]) if (r > 1.0 if key == "mae" else r < 1.0)]
                of_means = f"; ratio of the means over folds {ratio['of_means']:.3f}; planner worse on folds {worse or 'none'}" if "of_means" in ratio else ""
                lines += ["", f"{key.upper()} ratio planner / {what} ({better}): **{ratio['mean']:.3f} ± {ratio['std']:.3f}** (mean ± std over folds; per fold: {', '.join(f'{r:.3f}' for r in ratio['per_fold'])}{of_means})"]
        if "planner_trials_per_fold" in s:
            lines.append(f"planner trials per outer fold: {s['planner_trials_per_fold']}")
            if "planner_complete_trials_per_fold" in s:
                lines.append(f"planner complete trials per outer fold: {s['planner_complete_trials_per_fold']}; wall time (search + refit) / budget per fold: {s['planner_wall_over_budget_per_fold']}")
        secs = {m: [f[m]["seconds"] for f in rec["folds"] if "seconds" in f.get(m, {})] for m in methods}
        lines += [f"seconds used per outer fold by {m} (budget {rec['budget_s_per_fold']} s): {v}" for m, v in secs.items() if v and m in ("planner", *ANCHORS)]
        if "planner_single" in methods and "flaml" in methods:
            single = [f["planner_single"][key] / f["flaml"][key] for f in rec["folds"]]
            lines.append(f"without ensemble selection (single best trial of the same search) / FLAML: {np.mean(single):.3f} ± {np.std(single):.3f}")
        lines += ["", "| fold | " + " | ".join(f"{m} {key}" for m in methods) + " | planner pipeline |", "|---|" + "---|" * (len(methods) + 1)]
        for f in rec["folds"]:
            cells = [f"{f[m][key]:.4f}" if key in f.get(m, {}) else f[m].get("error", "-").splitlines()[0][:60] if m in f else "-" for m in methods]
            lines.append(f"| {f['fold']} | " + " | ".join(cells) + f" | {f.get('planner', {}).get('pipeline', '-').replace('|', '/')} |")
        lines.append("")
    tps = sorted(RESULTS.glob("throughput_*.json"))
    if tps:
        lines += ["## Search throughput", "", "| dataset | space | workers | trials/min | trials | seconds | states | load avg at end | command |", "|---|---|---|---|---|---|---|---|---|"]
        for path in tps:
            r = json.loads(path.read_text())
            lines.append(f"| {r['dataset']} | {r['space']} | {r['n_workers']} | {r['trials_per_minute']} | {r['n_trials']} | {r['seconds']} | {r['states']} | {r['machine']['loadavg_end']} | `{r['command']}` |")
        lines.append("")
    scales = sorted(RESULTS.glob("scale_*.json"))
    if scales:
        lines += ["## Wall time and trials by table size (`--scale`)", "", "| dataset | rows | budget s | wall s (search + refit) | wall / budget | finished trials | complete (full fidelity) | trials/min | final model | error | command |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for path in scales:
            for r in json.loads(path.read_text()):
                final = (r.get("final") or {}).get("pipeline", "-")
                lines.append(f"| {r['dataset']} | {r['rows']} | {r['budget_s']} | {r['wall_s']} | {r['wall_over_budget']} | {r['n_trials_finished']} | {r['n_complete']} ({r['n_complete_full_fidelity']}) | {r['trials_per_minute']} | {final} | {r['error'] or ''} | `{r['command']}` |")
        lines.append("")
    text = "\n".join(lines)
    (RESULTS / "RESULTS.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    global RESULTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a dataset from ../shared/datasets")
    parser.add_argument("--csv", help="any CSV (instead of --preset)")
    parser.add_argument("--target")
    parser.add_argument("--task", choices=("regression", "classification"), default="regression")
    parser.add_argument("--drop", nargs="*", default=[], help="columns that are not features")
    parser.add_argument("--group", help="group column (grouped outer and inner folds)")
    parser.add_argument("--query", help="pandas query selecting rows, e.g. 'temperature >= 15'")
    parser.add_argument("--name", help="result name (default: the preset or the CSV's name)")
    parser.add_argument("--budget-s", type=float, default=60.0, help="wall-clock budget per outer fold per AutoML method")
    parser.add_argument("--space", help="planner search space (default: small_data below 300 rows, else default)")
    parser.add_argument("--methods", default=None, help="any of planner, flaml, flaml_frac (FLAML on element fractions), lgbm (default LightGBM), rf, rf_frac, ag_medium, ag_medium_frac, ag_best, ag_best_frac (AutoGluon; default planner,flaml,rf)")
    parser.add_argument("--ag-python", default=os.environ.get("AG_PYTHON", "/tmp/venv-ag/bin/python"), help="Python of the AutoGluon benchmark environment (env AG_PYTHON; default /tmp/venv-ag/bin/python)")
    parser.add_argument("--merge", action="store_true", help="run only --methods and add them to the existing results/<name>.json (same data, folds and budget)")
    parser.add_argument("--combine", type=Path, metavar="OTHER.json", help="copy the per-fold method entries (--methods, default all) of another record of the same data, folds and budget into results/<name>.json")
    parser.add_argument("--refit-reserve", type=float, default=0.1, help="share of planner's budget kept for refitting its final ensemble")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", help="comma-separated outer folds to run (e.g. 0,1): a preliminary run; default all")
    parser.add_argument("--folds-note", help="why the --folds run is the planned protocol, not a preliminary one (e.g. the issue's 3 folds at 132k rows); shown instead of 'preliminary'")
    parser.add_argument("--throughput", action="store_true", help="measure trials per minute instead")
    parser.add_argument("--seconds", type=float, default=120.0, help="throughput run length")
    parser.add_argument("--workers", type=int, default=2, help="throughput: trials evaluated at once")
    parser.add_argument("--report", action="store_true", help="only rebuild results/RESULTS.md")
    parser.add_argument("--scale", action="store_true", help="wall time and trials per minute at the table sizes of --rows (subsamples of --preset)")
    parser.add_argument("--rows", default="1000,10000,100000", help="--scale: table sizes")
    parser.add_argument("--out", default=None, help="results folder (default: benchmarks/automl/results)")
    args = parser.parse_args(argv)
    args.argv = None if argv is None else ["benchmarks/automl/matbench_protocol.py", *argv]
    if args.out:
        RESULTS = Path(args.out)
    if args.report:
        print(report())
        return 0
    if args.combine:
        if not (args.name or args.preset):
            parser.error("--combine needs --name (or --preset) of the record to copy into")
        combine(args.name or args.preset, args.combine, args.methods.split(",") if args.methods else None)
        report()
        return 0
    explicit_methods, args.methods = args.methods, args.methods or "planner,flaml,rf"
    if args.merge and not explicit_methods:
        parser.error("--merge needs --methods: the methods to run and add")
    if set(args.methods.split(",")) & set(AG_METHODS) and not Path(args.ag_python).is_file():
        parser.error(f"AutoGluon's Python {args.ag_python!r} does not exist: build the benchmark environment (benchmarks/automl/README.md, 'Environment') or pass --ag-python")
    if args.scale:
        if not args.preset:
            parser.error("--scale needs --preset")
        scale(args)
        report()
        return 0
    if args.throughput:
        if not args.preset:
            parser.error("--throughput needs --preset")
        throughput(args)
        return 0
    if args.preset:
        name, cfg = args.name or args.preset, dict(PRESETS[args.preset])
    elif args.csv and args.target:
        name = args.name or Path(args.csv).stem
        cfg = {"csv": args.csv, "target": args.target, "task": args.task, "drop": args.drop, "group": args.group, "query": args.query}
    else:
        parser.error("give --preset or --csv with --target")
    benchmark(name, cfg, args)
    report()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
