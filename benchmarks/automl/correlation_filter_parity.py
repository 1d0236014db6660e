"""Does the unified CorrelationFilter (planner.steps) change what the AutoML search finds?

Issue 18 merged two CorrelationFilter classes; the search's algorithm was kept. This script
checks, against the code as it was before (``git show BEFORE:planner/automl/_transformers.py``
and a ``git archive`` of the whole package at BEFORE):

1. **masks** — the columns kept by the search's old filter and by ``planner.steps.CorrelationFilter``
   on real tables (Kim LCE's 13 features, LLZO's numeric columns raw (with gaps) and
   median-imputed, Liverpool's 132 Magpie descriptors), Pearson and Spearman, thresholds 0.8-0.99;
2. **search** — the same seeded, fixed-trial-count search on Kim LCE, run by the old package and
   by this one, in a space whose only selector is ``correlation`` (so every trial goes through
   the filter): every trial's parameters, state and CV value must be identical.

Fixed trial counts, not a time budget, so the comparison does not depend on machine load.
Writes ``results/parity/correlation_filter.json`` (the exact command included) and prints a
summary. Run from the repository root, one core, one thread::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 \\
        .venv/bin/python benchmarks/automl/correlation_filter_parity.py --trials 12
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("PLANNER_DATASETS", ROOT.parent / "shared" / "datasets"))
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")
BEFORE = "cbf9cfa"  # main before issue 18's steps/chem moves
THRESHOLDS = (0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
KIM_FEATURES = ["FC", "OC", "FO", "InOr", "F", "sF", "aF", "O", "sO", "aO", "C", "sC", "aC"]


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout


def old_filter_class() -> type:
    namespace: dict = {"__name__": "old_transformers"}
    exec(compile(_git("show", f"{BEFORE}:planner/automl/_transformers.py").decode(), "old_transformers", "exec"), namespace)
    return namespace["CorrelationFilter"]


def tables() -> dict[str, pd.DataFrame]:
    from planner.steps import Imputer, MagpieFeaturizer

    kim = pd.read_csv(DATASETS / "kim2023_pnas_electrolyte_ce" / "CE_data_with_names.csv")
    llzo = pd.read_csv(DATASETS / "llzo_doped_conductivity" / "llzo_dataset_clean.csv").dropna(how="all")
    llzo = llzo.drop(columns=["conductivity", "log_cond", "good_cond"]).select_dtypes("number").reset_index(drop=True)
    liverpool = pd.read_csv(DATASETS / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv", encoding="utf-8-sig")
    return {
        "kim_lce": kim[KIM_FEATURES],
        "llzo_raw": llzo,
        "llzo_imputed": Imputer(strategy="median").set_output(transform="pandas").fit_transform(llzo),
        "liverpool_magpie": MagpieFeaturizer().fit_transform(liverpool[["composition"]]),
    }


def compare_masks() -> list[dict]:
    from planner.steps import CorrelationFilter

    old_cls = old_filter_class()
    rows = []
    for name, table in tables().items():
        for method in ("pearson", "spearman"):
            for threshold in THRESHOLDS:
                old = old_cls(method=method, threshold=threshold).fit(table.to_numpy()).support_
                new = CorrelationFilter(method=method, threshold=threshold).fit(table).support_
                rows.append(
                    {
                        "table": name,
                        "n_rows": len(table),
                        "n_columns": table.shape[1],
                        "method": method,
                        "threshold": threshold,
                        "kept_before": int(old.sum()),
                        "kept_after": int(new.sum()),
                        "identical": bool(np.array_equal(old, new)),
                    }
                )
    return rows


SEARCH = """
import json, sys
import numpy as np, pandas as pd
import planner
from planner.automl import run_search
kim = pd.read_csv(sys.argv[1])
X, y = kim[{features!r}], kim["LCE"]
study = run_search(X, y, task="regression", search_space=sys.argv[2], storage_url="sqlite:///" + sys.argv[3],
                   study_name="parity", n_trials=int(sys.argv[4]), seed=0)
out = []
for t in study.trials:
    out.append({{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
                 "selector": t.params.get("selector")}})
print("PLANNER_FROM", planner.__file__, file=sys.stderr)
print(json.dumps(out))
"""


def restricted_space(directory: Path) -> Path:
    space = yaml.safe_load((ROOT / "search_spaces" / "small_data.yaml").read_text())
    space["name"] = "small_data_correlation_only"
    space["description"] = "small_data with the correlation filter as the only selector (parity check)"
    space["cv"] = {"n_splits": 5, "n_repeats": 1}
    space["steps"]["selector"] = {"correlation": space["steps"]["selector"]["correlation"]}
    keep = ("ridge", "svr", "kernel_ridge", "knn", "tree")
    space["fusion"] = {"single": {"models": {k: v for k, v in space["fusion"]["single"]["models"].items() if k in keep}}}
    space["defaults"] = [
        {"outliers": "none", "imputer": "median", "scaler": "standard", "selector": "correlation", "fusion": "single", "model": "ridge"},
        {"outliers": "none", "imputer": "median", "scaler": "standard", "selector": "correlation", "fusion": "single", "model": "knn"},
    ]
    path = directory / "correlation_only.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def run_search_with(package_root: Path | None, space: Path, trials: int, directory: Path, label: str) -> tuple[list[dict], float, str]:
    env = dict(os.environ)
    if package_root is not None:
        env["PYTHONPATH"] = str(package_root) + os.pathsep + env.get("PYTHONPATH", "")
    code = SEARCH.format(features=KIM_FEATURES)
    db = directory / f"{label}.db"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(DATASETS / "kim2023_pnas_electrolyte_ce" / "CE_data_with_names.csv"), str(space), str(db), str(trials)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"{label} search failed:\n{proc.stderr[-3000:]}")
    origin = next(line.split(" ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("PLANNER_FROM"))
    return json.loads(proc.stdout.strip().splitlines()[-1]), time.perf_counter() - start, origin


def compare_searches(trials: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="corr-parity-") as tmp:
        tmp_path = Path(tmp)
        before_root = tmp_path / "before"
        before_root.mkdir()
        with tarfile.open(fileobj=io.BytesIO(_git("archive", "--format=tar", BEFORE, "planner", "search_spaces"))) as tar:
            tar.extractall(before_root, filter="data")
        space = restricted_space(tmp_path)
        before, t_before, origin_before = run_search_with(before_root, space, trials, tmp_path, "before")
        after, t_after, origin_after = run_search_with(None, space, trials, tmp_path, "after")
    assert origin_before.startswith(str(before_root)), origin_before
    assert not origin_after.startswith(str(tmp_path)), origin_after
    identical = before == after
    return {
        "trials": trials,
        "space": "small_data with selector = correlation only, models ridge/svr/kernel_ridge/knn/tree, 5-fold CV once",
        "identical_trials": identical,
        "complete_before": sum(t["state"] == "COMPLETE" for t in before),
        "complete_after": sum(t["state"] == "COMPLETE" for t in after),
        "best_before": min((t["value"] for t in before if t["state"] == "COMPLETE"), default=None),
        "best_after": min((t["value"] for t in after if t["state"] == "COMPLETE"), default=None),
        "seconds_before": round(t_before, 1),
        "seconds_after": round(t_after, 1),
        "before": before,
        "after": after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=12, help="trials of the fixed-count search (each package)")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "automl" / "results" / "parity" / "correlation_filter.json"))
    args = parser.parse_args()
    command = " ".join(
        [f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ]
        + ["python", "benchmarks/automl/correlation_filter_parity.py", *map(shlex.quote, sys.argv[1:])]
    )
    masks = compare_masks()
    record: dict = {
        "command": command,
        "before": BEFORE,
        "after": _git("rev-parse", "--short", "HEAD").decode().strip() + (" (+ uncommitted)" if _git("status", "--porcelain", "planner") else ""),
        "affinity": sorted(os.sched_getaffinity(0)),
        "loadavg_start": list(os.getloadavg()),
        "masks": masks,
    }
    n_same = sum(r["identical"] for r in masks)
    print(f"masks: {n_same}/{len(masks)} identical")
    for r in masks:
        if r["threshold"] in (0.8, 0.95):
            print(f"  {r['table']:17s} {r['method']:8s} {r['threshold']:.2f}: kept {r['kept_before']:3d} -> {r['kept_after']:3d} of {r['n_columns']}")
    if not args.skip_search:
        search = compare_searches(args.trials)
        record["search"] = search
        print(
            f"search ({search['trials']} trials, Kim LCE): identical={search['identical_trials']}; "
            f"best MAE {search['best_before']} -> {search['best_after']}; "
            f"complete {search['complete_before']} -> {search['complete_after']}"
        )
    record["loadavg_end"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
