"""AutoGluon tabular anchor for ``matbench_protocol.py``, run in its own environment.

AutoGluon is never installed in the project (its pins differ from the project's); it lives in
a benchmark environment outside the repository (``/tmp/venv-ag``, see README.md). The protocol
writes one outer fold's train and test tables (features already computed) to a temporary
folder and runs this file with that environment's Python, pinned to the protocol's own cores
with one thread::

    /tmp/venv-ag/bin/python benchmarks/automl/ag_runner.py --train train.csv \\
        --test test.csv --label y --problem-type regression --eval-metric mean_absolute_error \\
        --presets medium_quality --time-limit 60 --out result.json

It fits ``TabularPredictor(label, eval_metric, path=tmp).fit(train, presets, time_limit,
num_cpus=1, num_gpus=0)`` and writes the test predictions, the class probabilities
(classification) and the seconds the fit used as JSON.

:func:`run_autogluon` is the protocol side (standard library, numpy and pandas only): it
writes the tables, starts the subprocess and reads the JSON back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_AG_PYTHON = "/tmp/venv-ag/bin/python"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _read(path: str):
    import pandas as pd

    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    return pd.read_csv(path, float_precision="round_trip")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--problem-type", required=True, choices=("regression", "binary", "multiclass"))
    parser.add_argument("--eval-metric", required=True)
    parser.add_argument("--presets", required=True)
    parser.add_argument("--time-limit", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model-dir", help="AutoGluon's folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    import autogluon.tabular
    from autogluon.tabular import TabularPredictor

    train, test = _read(args.train), _read(args.test)
    with tempfile.TemporaryDirectory(prefix="ag-") as tmp:
        predictor = TabularPredictor(
            label=args.label, problem_type=args.problem_type, eval_metric=args.eval_metric, path=args.model_dir or tmp, verbosity=1,
        )
        start = time.perf_counter()
        predictor.fit(train, presets=args.presets, time_limit=args.time_limit, num_cpus=1, num_gpus=0)
        fit_seconds = time.perf_counter() - start
        features = test.drop(columns=[args.label], errors="ignore")
        start = time.perf_counter()
        pred = predictor.predict(features)
        proba = predictor.predict_proba(features) if args.problem_type != "regression" else None
        predict_seconds = time.perf_counter() - start
        board = predictor.leaderboard(silent=True)
        result: dict[str, Any] = {
            "prediction": pred.tolist(),
            "proba": None if proba is None else proba[sorted(proba.columns)].to_numpy().tolist(),
            "classes": None if proba is None else [c.item() if hasattr(c, "item") else c for c in sorted(proba.columns)],
            "seconds": round(fit_seconds, 2),
            "predict_seconds": round(predict_seconds, 2),
            "model_best": predictor.model_best,
            "n_models": int(len(board)),
            "models": board["model"].tolist(),
            "autogluon_version": autogluon.tabular.__version__,
        }
    tmp_out = Path(args.out).with_suffix(".tmp")
    tmp_out.write_text(json.dumps(result))
    os.replace(tmp_out, args.out)
    return 0


def run_autogluon(Xf, y, train, test, *, task: str, budget_s: float, presets: str, ag_python: str, cpus: list[int] | None) -> dict[str, Any]:
    """One outer fold of AutoGluon, in its environment's Python, pinned to ``cpus`` with one thread.

    Args:
        Xf: the feature table (``n x d``), already featurized (Magpie or element fractions).
        y: the targets (``n``), integer labels for classification.
        train, test: the outer fold's row positions.
        task: ``regression`` or ``classification``.
        budget_s: AutoGluon's ``time_limit`` (the budget every AutoML method gets per fold).
        presets: ``medium_quality`` or ``best_quality``.
        ag_python: the benchmark environment's Python with ``autogluon.tabular`` installed.
        cpus: the cores to pin to with ``taskset -c`` (the protocol's own affinity).

    Returns:
        ``prediction`` (``n_test``), ``proba`` (``n_test x n_classes`` or None), the fit's
        ``seconds``, ``process_seconds`` (the whole subprocess, imports included) and what
        AutoGluon chose.

    Raises:
        FileNotFoundError: ``ag_python`` does not exist (with the commands that build it).
        RuntimeError: the subprocess failed (its last output lines are in the message).
    """
    import numpy as np
    import pandas as pd

    if not Path(ag_python).is_file():
        raise FileNotFoundError(
            f"AutoGluon's Python {ag_python!r} does not exist: build the benchmark environment outside the project "
            "(benchmarks/automl/README.md, 'Environment': python3.11 -m venv /tmp/venv-ag; torch==2.13.0 first; then "
            "autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3 with torch pinned) or pass --ag-python"
        )
    label = "__target__"
    regression = task == "regression"
    n_classes = 0 if regression else int(pd.Series(y).nunique())
    problem = "regression" if regression else ("binary" if n_classes == 2 else "multiclass")
    metric = "mean_absolute_error" if regression else "balanced_accuracy"
    frame = Xf.copy()
    for col in frame.columns:  # categories travel as strings; AutoGluon infers them again
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(object)
    frame.columns = [str(c) for c in frame.columns]
    frame[label] = np.asarray(y)
    with tempfile.TemporaryDirectory(prefix="ag-fold-") as tmp:
        paths = {}
        for part, rows in (("train", train), ("test", test)):
            paths[part] = Path(tmp) / f"{part}.csv"  # CSV: the project's environment has no parquet engine
            frame.iloc[rows].reset_index(drop=True).to_csv(paths[part], index=False)
        out = Path(tmp) / "result.json"
        cmd = [
            ag_python, str(Path(__file__).resolve()), "--train", str(paths["train"]), "--test", str(paths["test"]), "--label", label,
            "--problem-type", problem, "--eval-metric", metric, "--presets", presets, "--time-limit", str(budget_s), "--out", str(out),
            "--model-dir", str(Path(tmp) / "ag"),
        ]
        if cpus:
            cmd = ["taskset", "-c", ",".join(map(str, cpus)), *cmd]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the project's FLAML folder is not AutoGluon's
        start = time.perf_counter()
        proc = subprocess.run(cmd, env={**env, **ONE_THREAD}, capture_output=True, text=True)
        process_seconds = time.perf_counter() - start
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"AutoGluon ({presets}) failed with exit code {proc.returncode}: {tail}")
        result = json.loads(out.read_text())
    proba = None if result["proba"] is None else np.asarray(result["proba"], dtype=float)
    return {
        "prediction": np.asarray(result["prediction"]),
        "proba": proba,
        "seconds": result["seconds"],
        "process_seconds": round(process_seconds, 2),
        "predict_seconds": result["predict_seconds"],
        "presets": presets,
        "model_best": result["model_best"],
        "n_models": result["n_models"],
        "autogluon_version": result["autogluon_version"],
    }


if __name__ == "__main__":
    sys.exit(main())
