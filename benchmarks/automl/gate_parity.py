"""Do the size-aware stand-ins change a search on a small table? (They must not.)

The stand-ins (``subset_gp``, ``nystroem_ridge``, ``nystroem_svr``, ``nystroem_logistic``) are
offered only where the size gate removes an exact kernel model. This script runs the same
seeded, fixed-trial-count search on Kim LCE (150 rows, far below every gate) with the
``small_data`` space (which lists ``gp``, ``kernel_ridge``, ``svr`` in every fusion) twice:
with the package as it was before the stand-ins (``git archive BEFORE``) and with this one.
Every trial's parameters, state and CV value must be identical.

Writes ``results/parity/gate_standins.json`` (the exact command included). Run from the
repository root, one core, one thread::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 1 \\
        .venv/bin/python benchmarks/automl/gate_parity.py --trials 12
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

ROOT = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("PLANNER_DATASETS", "/work/shared/datasets"))
BEFORE = "e6b8ede"  # branch point of `gate`, before the stand-ins
KIM_FEATURES = ["FC", "OC", "FO", "InOr", "F", "sF", "aF", "O", "sO", "aO", "C", "sC", "aC"]

SEARCH = """
import json, sys
import pandas as pd
import planner
from planner.automl import run_search
kim = pd.read_csv(sys.argv[1])
study = run_search(kim[{features!r}], kim["LCE"], task="regression", search_space="small_data",
                   storage_url="sqlite:///" + sys.argv[2], study_name="parity", n_trials=int(sys.argv[3]), seed=0)
print("PLANNER_FROM", planner.__file__, file=sys.stderr)
print(json.dumps([{{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params}} for t in study.trials]))
"""


def _run(package_root: Path | None, trials: int, directory: Path, label: str) -> tuple[list[dict], float, str]:
    env = dict(os.environ)
    if package_root is not None:
        env["PYTHONPATH"] = str(package_root) + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", SEARCH.format(features=KIM_FEATURES), str(DATASETS / "kim2023_pnas_electrolyte_ce" / "CE_data_with_names.csv"), str(directory / f"{label}.db"), str(trials)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"{label} search failed:\n{proc.stderr[-3000:]}")
    origin = next(line.split(" ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("PLANNER_FROM"))
    return json.loads(proc.stdout.strip().splitlines()[-1]), time.perf_counter() - start, origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-parity-") as tmp:
        tmp_path = Path(tmp)
        before_root = tmp_path / "before"
        before_root.mkdir()
        archive = subprocess.run(["git", "archive", "--format=tar", BEFORE, "planner", "search_spaces"], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(before_root, filter="data")
        before, t_before, origin_before = _run(before_root, args.trials, tmp_path, "before")
        after, t_after, origin_after = _run(None, args.trials, tmp_path, "after")
    assert origin_before.startswith(str(before_root)) and not origin_after.startswith(str(tmp_path)), (origin_before, origin_after)
    result = {
        "command": "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 1 .venv/bin/python " + shlex.join(sys.argv),
        "before": BEFORE,
        "table": "Kim LCE (150 rows), small_data space, seed 0",
        "trials": args.trials,
        "identical_trials": before == after,
        "models_tried": sorted({str(t["params"].get("model", t["params"].get("fusion"))) for t in after}),
        "complete": sum(t["state"] == "COMPLETE" for t in after),
        "seconds_before": round(t_before, 1),
        "seconds_after": round(t_after, 1),
        "machine": "shared, loaded 2-core machine, one core, one thread",
    }
    path = ROOT / "benchmarks" / "automl" / "results" / "parity" / "gate_standins.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not result["identical_trials"]:
        raise SystemExit("the stand-ins changed a small-table search")


if __name__ == "__main__":
    main()
