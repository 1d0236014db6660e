"""Marginal-likelihood evaluations, seconds and the optimum reached by the engine GP's fit.

For each pool of the backtests (``datasets.py``; inputs min-max scaled, one-hot for text, the
target signed so that larger is better) and the synthetic problem of ``latency.py`` (Hartmann-6
at uniform random points), random subsets of 20, 50, 100 (and 200 for Hartmann-6) observations
are fitted by ``planner.active._gp``'s model with each kernel (``matern``, ``additive``) and each
configuration of the optimiser:

- ``maxcor10``: BoTorch's ``fit_gpytorch_mll`` with scipy's default L-BFGS-B memory (10 steps);
- ``maxcor50``: the same with the memory planner uses (:data:`planner.active._gp.FIT_MAXCOR`);
- ``planner``: :func:`planner.active._gp.fit_gp`'s own fit (memory 50 and, where
  :mod:`planner.active._fast_mll` applies, its loss closure).

Reported per fit: evaluations of the loss, seconds, and the final negative log marginal
likelihood (nats, priors included) minus the best of the configurations, so that 0 is the best
optimum found and a positive number says how far a configuration stopped short. Run pinned to
one core::

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/active/fit_steps.py

Writes ``results/fit_steps.csv`` and ``results/FIT_STEPS.md``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CONFIGS = ("maxcor10", "maxcor50", "planner")


def _problems(names: list[str]) -> list[tuple[str, np.ndarray, np.ndarray, tuple[int, ...]]]:
    from datasets import load
    from synthetic import hartmann6

    out = []
    for name in names:
        if name == "hartmann6":
            rng = np.random.default_rng(1)
            X = rng.random((1000, 6))
            out.append((name, X, hartmann6(X), (20, 50, 100, 200)))
            continue
        bench = load(name)
        X = pd.get_dummies(bench.pool[bench.inputs], dtype=float).to_numpy(float)
        span = np.ptp(X, axis=0)
        X = (X - X.min(axis=0)) / np.where(span > 0, span, 1.0)
        target, direction = bench.targets[0]
        y = bench.pool[target].to_numpy(float) * (1.0 if direction == "max" else -1.0)
        out.append((name, X, y, (20, 50, 100)))
    return out


def _fit(X: np.ndarray, y: np.ndarray, kernel: str, config: str) -> tuple[int, float, float]:
    """(loss evaluations, seconds, final loss in nats) of one fit."""
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from planner.active import _fast_mll, _gp

    d = X.shape[1]
    lo, hi = np.zeros(d), np.ones(d)
    evals = [0]
    if config == "planner":
        original = _fast_mll.loss_closure

        def counted(mll):  # count the evaluations of whichever closure fit_gp uses
            closure = original(mll) or _default_closure(mll)

            def wrapped():
                evals[0] += 1
                return closure()

            return wrapped

        _fast_mll.loss_closure = counted
        try:
            t = time.perf_counter()
            surrogate = _gp.fit_gp(X, y[:, None], lo, hi, kernel=kernel)
            seconds = time.perf_counter() - t
        finally:
            _fast_mll.loss_closure = original
        gp = surrogate.model
    else:
        Xt, Yt = torch.as_tensor(X), torch.as_tensor(y[:, None])
        gp = _gp._build_gp(Xt, Yt, torch.as_tensor(lo), torch.as_tensor(hi), None, kernel=kernel)
        closure = _default_closure(ExactMarginalLogLikelihood(gp.likelihood, gp))

        def wrapped():
            evals[0] += 1
            return closure()

        t = time.perf_counter()
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(gp.likelihood, gp),
            closure=wrapped,
            optimizer_kwargs={"options": {"maxcor": 10 if config == "maxcor10" else _gp.FIT_MAXCOR}},
        )
        seconds = time.perf_counter() - t
    gp.train()
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    with torch.no_grad():
        loss = -float(mll(gp(*gp.train_inputs), gp.train_targets)) * len(y)
    return evals[0], seconds, loss


def _default_closure(mll):
    from botorch.optim.closures import get_loss_closure_with_grads
    from botorch.optim.utils import get_parameters

    return get_loss_closure_with_grads(mll, parameters=get_parameters(mll, requires_grad=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--problems", nargs="+", default=["hartmann6", "agnp", "autoam", "crossed_barrel", "oer_3496", "btz"]
    )
    parser.add_argument("--kernels", nargs="+", default=["matern", "additive"])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    rows = []
    for name, X, y, sizes in _problems(args.problems):
        rng = np.random.default_rng(0)
        for n in sizes:
            idx = rng.choice(len(X), n, replace=False)
            for kernel in args.kernels:
                found = {c: _fit(X[idx], y[idx], kernel, c) for c in CONFIGS}
                best = min(v[2] for v in found.values())
                row = {"problem": name, "inputs": X.shape[1], "n": n, "kernel": kernel}
                for c, (evals, seconds, loss) in found.items():
                    row.update({f"{c}_evals": evals, f"{c}_s": round(seconds, 3), f"{c}_gap": round(loss - best, 4)})
                rows.append(row)
                print(row, flush=True)
    table = pd.DataFrame(rows)
    out = HERE / "results"
    table.to_csv(out / "fit_steps.csv", index=False)
    summary = table.groupby("kernel")[[f"{c}_{k}" for c in CONFIGS for k in ("evals", "s")]].median()
    gaps = table.groupby("kernel")[[f"{c}_gap" for c in CONFIGS]].max()
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=HERE.parents[1], capture_output=True, text=True
    ).stdout.strip()
    (out / "FIT_STEPS.md").write_text(
        "# GP fit: loss evaluations, seconds and optimum reached\n\n"
        f"command: `OMP_NUM_THREADS=1 taskset -c 0 {command}` (commit {commit}, {os.cpu_count()} cores, one used)\n\n"
        "`*_gap`: final negative log marginal likelihood (nats, priors included) minus the best of the three "
        "configurations on the same subset.\n\n"
        "Medians over all problems and sizes:\n\n" + summary.round(3).to_markdown() + "\n\n"
        "Largest gap per configuration:\n\n" + gaps.round(4).to_markdown() + "\n\n"
        "Every fit:\n\n" + table.to_markdown(index=False) + "\n"
    )


if __name__ == "__main__":
    main()
