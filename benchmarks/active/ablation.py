"""Ablation of the suspects of issue 14, each changed alone against planner's default arm.

Every arm is planner's default (GP, ARD Matern-5/2, qLogNEI, sequential-greedy batch) with one
thing changed, paired per seed against the default on the same starting rows (held-out seeds,
base seed 1000 as in ``variants.py``):

- ``noshort``: no analytic prefilter/shortlist; every remaining candidate is scored by the exact
  batch acquisition (``shortlist_size`` above the pool size). Tests whether the shortlist cuts the
  eventual best candidate;
- ``qlogei``: ``qLogExpectedImprovement`` over the best observed value instead of the noisy
  incumbent of ``qLogNoisyExpectedImprovement`` (same batch construction);
- ``dropone``: compositions (fractions summing to 1) without their last fraction, so the ARD
  dimensions are not collinear;
- ``ilr``: compositions in isometric log-ratio coordinates (zeros replaced by 0.5 at%, then
  renormalised);
- ``log`` / ``bilog`` / ``yj`` / ``copula``: outcome transforms for skewed positive targets
  (the GP is fitted to log(y), sign(y) log(1 + |y|), Yeo-Johnson(y), or normal scores of the ranks);
- ``rbf`` / ``gamma`` / ``edbo`` / ``fixnoise`` / ``restarts``: the GP's kernel, priors, noise and
  fitting restarts (``ablation_gp.py``);
- ``portfolio+<variant>``: the default portfolio whose GP half is that GP variant;
- ``greedy@rf``: the greedy random-forest baseline, for reference.

The reference and every arm but ``greedy@rf`` run the GP alone (``surrogate="gp"``), the default
before issue 14 made it the GP + forest portfolio; ``qlognei@portfolio`` is the portfolio.

Usage (one core, one thread, in-process)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 python benchmarks/active/ablation.py \
        --datasets oer_3496_exp --arms qlognei log bilog yj copula greedy@rf --seeds 10

writes ``results/ablation/<dataset>_runs.csv`` (merged by arm) and ``results/ablation/ABLATION.md``
(every dataset with a runs file, paired against ``qlognei``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ablation_gp import GP_VARIANTS, gp_variant_policy  # noqa: E402

REFERENCE = "qlognei"
WARPS = ("log", "bilog", "yj", "copula")
COMPOSITION = ("dropone", "ilr")


def warp(y: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Monotone increasing transform of every output column (the order of the values is kept)."""
    from scipy.stats import norm, rankdata
    from sklearn.preprocessing import PowerTransformer

    out = y.astype(float).copy()
    for col in y.columns:
        v = y[col].to_numpy(dtype=float)
        if np.ptp(v) == 0:
            continue
        if kind == "log" and v.min() > 0:
            out[col] = np.log(v)
        elif kind in ("log", "bilog"):
            out[col] = np.sign(v) * np.log1p(np.abs(v))
        elif kind == "yj":
            out[col] = PowerTransformer(method="yeo-johnson").fit_transform(v.reshape(-1, 1)).ravel()
        else:
            out[col] = norm.ppf((rankdata(v) - 0.5) / len(v))
    return out


def ilr(frame: pd.DataFrame, delta: float = 0.005) -> pd.DataFrame:
    """Isometric log-ratio coordinates (Helmert basis) of the rows of ``frame`` (fractions)."""
    x = frame.to_numpy(dtype=float) + delta
    x = x / x.sum(axis=1, keepdims=True)
    d = x.shape[1]
    basis = np.zeros((d, d - 1))
    for k in range(1, d):
        basis[:k, k - 1] = 1.0 / k
        basis[k, k - 1] = -1.0
        basis[:, k - 1] *= np.sqrt(k / (k + 1.0))
    z = np.log(x) @ basis
    return pd.DataFrame(z, index=frame.index, columns=[f"ilr{k}" for k in range(1, d)])


def _suggest_labels(observed_X, observed_y, candidates, targets, n, seed, surrogate="gp") -> list[int]:
    from planner.active import PoolDesign, suggest

    result = suggest(
        observed_X, observed_y, design=PoolDesign(candidates), targets=targets, n=n, strategy="qlognei",
        surrogate=surrogate, seed=seed,
    )
    return [int(c) for c in result.table["candidate"]]


def _warp_policy(kind):
    def policy(observed_X, observed_y, candidates, targets, n, seed):
        return _suggest_labels(observed_X, warp(observed_y, kind), candidates, targets, n, seed)

    return policy


def dropone_policy(observed_X, observed_y, candidates, targets, n, seed):
    keep = list(candidates.columns[:-1])
    return _suggest_labels(observed_X[keep], observed_y, candidates[keep], targets, n, seed)


def ilr_policy(observed_X, observed_y, candidates, targets, n, seed):
    return _suggest_labels(ilr(observed_X), observed_y, ilr(candidates), targets, n, seed)


def log_policy(*a):
    return _warp_policy("log")(*a)


def bilog_policy(*a):
    return _warp_policy("bilog")(*a)


def yj_policy(*a):
    return _warp_policy("yj")(*a)


def copula_policy(*a):
    return _warp_policy("copula")(*a)


def _register_qlogei() -> None:
    from planner.active import register_strategy
    from planner.active._strategies import _STRATEGIES, QLogNEI

    if "qlogei_ablation" in _STRATEGIES:
        return

    @register_strategy("qlogei_ablation")
    class QLogEI(QLogNEI):
        """``qLogExpectedImprovement`` over the best observed value (ablation only)."""

        def _build(self, prob):
            from botorch.acquisition.logei import qLogExpectedImprovement

            best_f = prob.best_observed

            def build(model, X_baseline, X_pending):
                return qLogExpectedImprovement(
                    model,
                    best_f=best_f,
                    sampler=prob.sampler(),
                    objective=prob.mc_objective(),
                    constraints=prob.mc_constraints(),
                    eta=prob.mc_eta(),
                    X_pending=X_pending,
                )

            return build


def arms(names: list[str]):
    from planner.active import Arm

    policies = {
        "log": log_policy,
        "bilog": bilog_policy,
        "yj": yj_policy,
        "copula": copula_policy,
        "dropone": dropone_policy,
        "ilr": ilr_policy,
    }
    out = []
    for name in names:
        if name in GP_VARIANTS:
            out.append(Arm(name, strategy="qlognei", policy=gp_variant_policy(name)))
        elif name.startswith("portfolio+") and name.partition("+")[2] in GP_VARIANTS:
            out.append(Arm(name, strategy="qlognei", policy=gp_variant_policy(name.partition("+")[2], "portfolio")))
        elif name in policies:
            out.append(Arm(name, strategy="qlognei", policy=policies[name]))
        elif name == "noshort":
            out.append(Arm(name, strategy="qlognei", options={"shortlist_size": 10**7}))
        elif name == "qlogei":
            _register_qlogei()
            out.append(Arm(name, strategy="qlogei_ablation"))
        else:
            out.append(Arm.parse(name))
    return out


def main() -> None:
    from datasets import DERIVED, NAMES, load
    from run_backtests import backtest_dataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", required=True, choices=NAMES + DERIVED)
    parser.add_argument("--arms", nargs="+", required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1000, help="base seed; the headline backtests use 0")
    args = parser.parse_args()
    out = HERE / "results" / "ablation"
    out.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    for name in args.datasets:
        bench = load(name)
        t0 = time.perf_counter()
        result = backtest_dataset(
            bench, arms(args.arms), n_seeds=args.seeds, n_jobs=1, seed=args.seed, executor="local",
            checkpoint=out / f"{name}_partial",
        )
        elapsed = round(time.perf_counter() - t0, 1)
        runs = result.runs
        # 10-seed runs in <pool>_runs.csv; other seed counts in their own file, so that every arm
        # of a table has the same seeds.
        path = out / (f"{name}_runs.csv" if args.seeds == 10 else f"{name}_seeds{args.seeds}_runs.csv")
        if path.exists():
            old = pd.read_csv(path)
            if sorted(old["seed"].unique()) == sorted(runs["seed"].unique()):
                runs = pd.concat([old[~old["arm"].isin(args.arms)], runs], ignore_index=True)
        runs.to_csv(path, index=False)
        log = out / "commands.jsonl"
        with log.open("a") as fh:
            fh.write(json.dumps({"command": command, "dataset": name, "arms": args.arms, "seconds": elapsed,
                                 "failed_runs": result.metadata["failed_runs"]}) + "\n")
        print(f"{name}: {elapsed} s", flush=True)
    write_tables(out)


def write_tables(out: Path) -> None:
    from datasets import DERIVED, NAMES, load
    from variants import _table

    tables = []
    for name in NAMES + DERIVED:
        for path in [out / f"{name}_runs.csv", *sorted(out.glob(f"{name}_seeds*_runs.csv"))]:
            if not path.exists():
                continue
            runs = pd.read_csv(path)
            if REFERENCE in set(runs["arm"]):
                table = _table(name, runs, load(name).budget)
                tables.append(table.assign(dataset=f"{name} ({runs['seed'].nunique()} seeds)"))
    commands = [json.loads(line) for line in (out / "commands.jsonl").read_text().splitlines()]
    text = [
        "# Ablation of issue 14's suspects (generated by ablation.py) - PRELIMINARY",
        "",
        "Each arm changes one thing of planner's GP alone (ARD Matern-5/2, dimension-scaled log-normal priors, "
        "qLogNEI, sequential-greedy batch; the default before issue 14, now the GP half of the `portfolio` default); "
        "paired per seed against `qlognei` (that GP) on the same starting rows (held-out base seed 1000; a seed "
        "without a hit counts budget + 1; negative differences: fewer experiments than the GP; two-sided Wilcoxon "
        "signed-rank). Fewer seeds than the 20 of the headline tables: preliminary. The arms are described in the "
        "docstrings of `ablation.py` and `ablation_gp.py`. Timings and runs on a shared, loaded 2-core machine, one "
        "core, one thread.",
        "",
        *[f"- `{c['command']}` ({c['dataset']}: {c['seconds']} s, failed runs {len(c['failed_runs'])})" for c in commands],
        "",
        pd.concat(tables, ignore_index=True).to_markdown(index=False, floatfmt=".3g") if tables else "(no runs yet)",
        "",
    ]
    (out / "ABLATION.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
