"""Backtest planner's strategies (and BayBE) on the shared pools; write the results here.

Run from the repository root, e.g.::

    python benchmarks/active/run_backtests.py --datasets agnp autoam --seeds 20 --jobs 2

Arms: ``random``, ``greedy@rf`` (greedy random forest, the usual materials baseline),
``failures`` (the default GP arm with ``suggest(floor="failures")``),
``qlognei`` (planner's GP with qLogNoisyEI; ``qlognehvi`` for several targets), ``qlognei@rf``
(planner's ensemble surrogate: random forest with per-tree spread; ``qlognehvi@rf``), and
``baybe`` (BayBE's default recommender over ``SubspaceDiscrete.from_dataframe``; needs
``pip install baybe`` in the benchmark environment, never in the project). Each dataset
writes ``results/<name>/{summary,curves,runs}.csv`` and ``metadata.json`` (with the
command line), and ``results/SUMMARY.md`` collects the headline numbers of every
dataset run so far.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
#: Where the tables go (``--out`` changes it, e.g. for extra seeds kept apart from the headline).
RESULTS = HERE / "results"

from datasets import NAMES, load  # noqa: E402

from planner.active import Arm, backtest  # noqa: E402


def arms_for(names: list[str], multi: bool) -> list[Arm]:
    out = []
    for name in names:
        if name == "baybe":
            from baybe_arm import baybe_policy

            out.append(Arm("baybe", strategy="baybe", policy=baybe_policy))
        elif name == "portfolio":  # planner's default: suggest(surrogate="portfolio")
            out.append(Arm("portfolio", strategy="qlognehvi" if multi else "qlognei", surrogate="portfolio"))
        elif name == "failures":  # the GP with failed runs (a pile-up at the worst value) modelled as failures
            out.append(Arm("failures", strategy="qlognehvi" if multi else "qlognei", options={"floor": "failures"}))
        elif multi and name.startswith("qlognei"):
            out.append(Arm.parse(name.replace("qlognei", "qlognehvi")))
        else:
            out.append(Arm.parse(name))
    return out


def backtest_dataset(bench, arms: list[Arm], *, n_seeds: int, n_jobs: int, seed: int, **options):
    """``backtest`` on a benchmark dataset with its protocol (starts, batch, budget, categorical
    inputs); ``options`` go to ``backtest`` as they are (``budget`` overrides the dataset's)."""
    options.setdefault("budget", bench.budget)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return backtest(
            bench.pool,
            inputs=bench.inputs,
            targets=bench.targets,
            strategies=arms,
            n_seeds=n_seeds,
            n_initial=bench.n_initial,
            batch_size=bench.batch_size,
            categorical=bench.categorical,
            n_jobs=n_jobs,
            seed=seed,
            **options,
        )


def run_one(name: str, args: argparse.Namespace) -> dict:
    bench = load(name)
    multi = len(bench.targets) > 1
    arms = arms_for(args.arms, multi)
    out = RESULTS / name
    # Every finished run is kept here until the dataset's tables are written: the same command
    # after a kill reruns only the missing runs (slow arms, e.g. BayBE on redoxmers, can take
    # longer than one sitting).
    partial = out / "partial"
    t0 = time.perf_counter()
    result = backtest_dataset(
        bench,
        arms,
        n_seeds=args.seeds,
        n_jobs=args.jobs,
        seed=args.seed,
        budget=args.budget or bench.budget,
        executor=args.executor,
        checkpoint=partial,
    )
    meta = dict(result.metadata)
    meta["command"] = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    meta["dataset_note"] = bench.note
    meta["git_commit"] = _git_commit()
    meta["elapsed_seconds"] = round(time.perf_counter() - t0, 1)
    if args.merge and (out / "summary.csv").exists():
        meta = _merge_into(out, result, meta)
    else:
        result.to_dir(out)
    (out / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
    shutil.rmtree(partial, ignore_errors=True)  # every run is in the tables now
    return meta


#: Metadata that must agree for two result folders' runs to be combined or paired.
PROTOCOL = ("targets", "inputs", "n_initial", "batch_size", "budget", "pool")


def protocol_difference(a: dict, b: dict, keys: tuple[str, ...] = PROTOCOL) -> str | None:
    """The first of ``keys`` on which two metadata records differ (compared as JSON), or None."""
    for key in keys:
        if json.loads(json.dumps(a.get(key), default=str)) != json.loads(json.dumps(b.get(key), default=str)):
            return key
    return None


def _merge_into(out: Path, result, meta: dict) -> dict:
    """Replace the rows of this run's arms in an existing result folder, keep the others.

    Every per-arm number (curves, summary) depends only on that arm's runs, and the starting
    rows depend only on the seed, so arms run at different times on the same protocol combine
    exactly. The protocols must match; each run's command and commit are kept.
    """
    old_meta = json.loads((out / "metadata.json").read_text())
    key = protocol_difference(old_meta, meta, (*PROTOCOL, "n_seeds", "seed"))
    if key is not None:
        raise SystemExit(f"--merge: {key} differs from {out}/metadata.json ({old_meta.get(key)} vs {meta.get(key)})")
    new_arms = {a["label"] for a in meta["arms"]}
    # Arms keep their place in the tables; arms new to the folder come last.
    order = [a["label"] for a in old_meta["arms"]] + [a["label"] for a in meta["arms"] if a["label"] not in {
        b["label"] for b in old_meta["arms"]}]
    for name, frame in (("runs", result.runs), ("curves", result.curves), ("summary", result.summary)):
        old = pd.read_csv(out / f"{name}.csv")
        merged = pd.concat([old[~old["arm"].isin(new_arms)], frame], ignore_index=True)
        merged = merged.iloc[merged["arm"].map(order.index).argsort(kind="stable")]
        merged.to_csv(out / f"{name}.csv", index=False)
    runs_before = old_meta.get("runs", [
        {k: old_meta.get(k) for k in ("command", "git_commit", "elapsed_seconds")}
        | {"arms": [a["label"] for a in old_meta["arms"]]}
    ])
    this_run = {k: meta[k] for k in ("command", "git_commit", "elapsed_seconds")} | {"arms": sorted(new_arms)}
    merged_meta = dict(old_meta)
    merged_meta["arms"] = sorted(
        [a for a in old_meta["arms"] if a["label"] not in new_arms] + meta["arms"], key=lambda a: order.index(a["label"])
    )
    merged_meta["failed_runs"] = [f for f in old_meta.get("failed_runs", []) if f["arm"] not in new_arms] + meta["failed_runs"]
    merged_meta["runs"] = runs_before + [this_run]
    merged_meta["command"] = "; ".join(r["command"] for r in merged_meta["runs"])
    merged_meta["git_commit"] = meta["git_commit"]
    merged_meta["elapsed_seconds"] = round(sum(float(r["elapsed_seconds"]) for r in merged_meta["runs"]), 1)
    return merged_meta


def _git_commit() -> str:
    import subprocess

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=HERE.parents[1], capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "planner/active", "benchmarks/active/run_backtests.py")
    return git("rev-parse", "HEAD") + (" (planner/active modified)" if dirty else "")


def write_summary() -> None:
    """Collect the headline numbers of every dataset with results into SUMMARY.md."""
    lines = ["# Backtest results (generated by run_backtests.py; see each folder's metadata.json for the command)", ""]
    for name in NAMES:
        folder = RESULTS / name
        if not (folder / "summary.csv").exists():
            continue
        meta = json.loads((folder / "metadata.json").read_text())
        summary = pd.read_csv(folder / "summary.csv")
        multi = len(meta["targets"]) > 1
        lines += [
            f"## {name}",
            "",
            f"- pool: {meta['pool']['n_rows']} rows, {meta['pool']['n_unique']} unique inputs; targets {meta['targets']}",
            f"- protocol: {meta['n_seeds']} seeds, {meta['n_initial']} random starts, batch {meta['batch_size']}, "
            f"budget {meta['budget']} experiments; {meta.get('dataset_note', '')}",
            f"- command: `{meta.get('command', '?')}` ({meta.get('elapsed_seconds', '?')} s wall, "
            f"commit {meta.get('git_commit', '?')[:12]})",
            "",
        ]
        if multi:
            cols = [
                "arm",
                "final_hv_fraction_mean",
                "final_hv_fraction_median",
                "final_top_pareto_mean",
                "first_hit_top_pareto_median",
                "first_hit_top_pareto_missed",
                "n_failed",
                "seconds_per_run",
            ]
        else:
            cols = [
                "arm",
                "final_best_so_far_mean",
                "final_top_0.05_mean",
                "af_top_0.05_at_0.5",
                "first_hit_top_0.01_median",
                "first_hit_top_0.01_missed",
                "first_hit_top_0.05_median",
                "first_hit_top_0.05_missed",
                "n_failed",
                "seconds_per_run",
            ]
            curves = pd.read_csv(folder / "curves.csv")
            last = curves.sort_values("i").groupby("arm").tail(1).set_index("arm")["ef_0.05"]
            summary = summary.assign(**{"ef_0.05_at_budget": summary["arm"].map(last)})
            cols.insert(3, "ef_0.05_at_budget")
            if "first_hit_top_0.05_random_expected" in summary:
                lines.append(
                    f"Random sampling needs {summary['first_hit_top_0.05_random_expected'].iloc[0]:.1f} experiments in "
                    f"expectation to hit the top 5% and {summary['first_hit_top_0.01_random_expected'].iloc[0]:.1f} for the top 1%."
                )
                lines.append("")
        cols = [c for c in cols if c in summary.columns]
        lines.append(summary[cols].to_markdown(index=False, floatfmt=".3g"))
        lines.append("")
        if "baybe" in set(summary["arm"]):
            lines += (_paired_vs_multi if multi else _paired_vs)(folder, meta, "baybe")
    lines += _pooled_vs("baybe")
    (RESULTS / "SUMMARY.md").write_text("\n".join(lines) + "\n")


def _first_hits(runs: pd.DataFrame, hits: pd.Series, budget: int) -> pd.Series:
    """Experiments to the first hit (``hits``: a mask over ``runs``) per (arm, seed); a seed
    that never hits counts budget + 1."""
    hit = runs[hits].groupby(["arm", "seed"])["i"].min()
    full = pd.MultiIndex.from_product([runs["arm"].unique(), runs["seed"].unique()], names=["arm", "seed"])
    return hit.reindex(full).fillna(budget + 1)


def _paired_first_hits(
    dataset: str, runs: pd.DataFrame, budget: int, reference: str, arms: list[str] | None = None
) -> pd.DataFrame:
    """Per-seed differences in experiments to the first top-1% / top-5% hit between each arm
    (default: every arm but ``reference`` and random) and ``reference`` (same starting rows
    per seed): ``pool, top, arm, seed, arm_hit, reference_hit, diff`` and ``scaled`` (the
    difference over the experiments random sampling needs in expectation, so that pools of
    different difficulty can be pooled)."""
    from planner.active._backtest_metrics import dedupe_pool, top_rows

    bench = load(dataset)  # the top sets come from the whole de-duplicated pool, as in the backtest
    pool, _ = dedupe_pool(bench.pool, bench.inputs, [t for t, _ in bench.targets])
    name, direction = bench.targets[0]

    values = pool[name].to_numpy(dtype=float) * (1 if direction == "max" else -1)
    if arms is None:
        arms = [a for a in runs["arm"].unique() if a not in (reference, "random")]
    frames = []
    for frac, top in top_rows(values, (0.01, 0.05)).items():
        members = set(int(r) for r in top)
        first = _first_hits(runs, runs["row"].isin(members), budget)
        ref = first.loc[reference]
        random_cost = (len(values) + 1) / (len(members) + 1)  # expected draws without replacement
        for arm in arms:
            hit = first.loc[arm]
            frames.append(
                pd.DataFrame(
                    {
                        "pool": dataset,
                        "top": f"{frac:.0%}",
                        "arm": arm,
                        "seed": hit.index.to_numpy(),
                        "arm_hit": hit.to_numpy(),
                        "reference_hit": ref.reindex(hit.index).to_numpy(),
                    }
                ).assign(
                    diff=lambda f: f["arm_hit"] - f["reference_hit"],
                    scaled=lambda f: (f["arm_hit"] - f["reference_hit"]) / random_cost,  # noqa: B023 - applied at once
                )
            )
    return pd.concat(frames, ignore_index=True)


def _wilcoxon(diff: np.ndarray) -> float:
    import numpy as np
    from scipy.stats import wilcoxon

    if not np.any(diff != 0):
        return 1.0
    try:
        return float(wilcoxon(diff, zero_method="zsplit").pvalue)
    except ValueError:
        return float("nan")


def _paired_table(pairs: pd.DataFrame, reference: str, by: list[str], value: str) -> pd.DataFrame:
    import numpy as np

    rows = []
    for key, g in pairs.groupby(by, sort=False):
        diff = g[value].to_numpy(dtype=float)
        rows.append(
            dict(zip(by, key if isinstance(key, tuple) else (key,)))
            | {
                "median_first_hit": float(g["arm_hit"].median()),
                f"{reference}_median_first_hit": float(g["reference_hit"].median()),
                ("median_paired_difference" if value == "diff" else "median_scaled_difference"): float(np.median(diff)),
                "seeds_fewer/tie/more": f"{int((diff < 0).sum())}/{int((diff == 0).sum())}/{int((diff > 0).sum())}",
                "wilcoxon_p": _wilcoxon(diff),
            }
        )
    return pd.DataFrame(rows)


def _has_arms_beside(runs: pd.DataFrame, reference: str) -> bool:
    """Whether ``runs`` holds an arm to pair with ``reference`` (not so when the reference ran
    first and the other arms are merged later)."""
    return bool(set(runs["arm"]) - {reference, "random"})


def _paired_vs(folder: Path, meta: dict, reference: str) -> list[str]:
    """Per-seed paired comparison of each planner arm with ``reference`` (same starting rows per seed)."""
    runs = pd.read_csv(folder / "runs.csv")
    if not _has_arms_beside(runs, reference):
        return []
    pairs = _paired_first_hits(folder.name, runs, int(meta["budget"]), reference)
    table = _paired_table(pairs, reference, ["top", "arm"], "diff")
    return [
        f"Paired per seed against {reference} (same starting rows; a seed without a hit counts budget + 1; "
        "negative differences: fewer experiments than BayBE; two-sided Wilcoxon signed-rank):",
        "",
        table.to_markdown(index=False, floatfmt=".3g"),
        "",
    ]


def _paired_vs_multi(folder: Path, meta: dict, reference: str) -> list[str]:
    """Multi-objective paired comparison per seed: final hypervolume fraction and experiments
    to the first point of the pool's Pareto front."""
    import numpy as np

    runs = pd.read_csv(folder / "runs.csv")
    budget = int(meta["budget"])
    final = runs.sort_values("i").groupby(["arm", "seed"])["hv_fraction"].last()
    hits = _first_hits(runs, runs["top_pareto_found"] > 0, budget)
    rows = []
    for arm in [a for a in runs["arm"].unique() if a not in (reference, "random")]:
        dhv = (final.loc[arm] - final.loc[reference]).to_numpy()
        dhit = (hits.loc[arm] - hits.loc[reference]).to_numpy()
        rows.append(
            {
                "arm": arm,
                "final_hv_fraction_median": float(final.loc[arm].median()),
                f"{reference}_final_hv_fraction_median": float(final.loc[reference].median()),
                "median_hv_difference": float(np.median(dhv)),
                "seeds_higher/tie/lower_hv": f"{int((dhv > 0).sum())}/{int((dhv == 0).sum())}/{int((dhv < 0).sum())}",
                "hv_wilcoxon_p": _wilcoxon(dhv),
                "first_pareto_hit_median": float(hits.loc[arm].median()),
                f"{reference}_first_pareto_hit_median": float(hits.loc[reference].median()),
                "seeds_fewer/tie/more_to_pareto": f"{int((dhit < 0).sum())}/{int((dhit == 0).sum())}/{int((dhit > 0).sum())}",
                "pareto_hit_wilcoxon_p": _wilcoxon(dhit),
            }
        )
    return [
        f"Paired per seed against {reference} (same starting rows; final hypervolume fraction, higher is better; "
        "experiments to the first member of the pool's Pareto front, a seed without one counts budget + 1; "
        "two-sided Wilcoxon signed-rank):",
        "",
        pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g"),
        "",
    ]


def _pooled_vs(reference: str) -> list[str]:
    """All single-objective pools with a ``reference`` arm together: per-seed differences
    scaled by what random sampling needs in expectation on each pool."""
    pairs = []
    for name in NAMES:
        folder = RESULTS / name
        if not (folder / "runs.csv").exists():
            continue
        meta = json.loads((folder / "metadata.json").read_text())
        runs = pd.read_csv(folder / "runs.csv")
        if len(meta["targets"]) > 1 or reference not in set(runs["arm"]) or not _has_arms_beside(runs, reference):
            continue
        pairs.append(_paired_first_hits(name, runs, int(meta["budget"]), reference))
    if not pairs:
        return []
    pairs = pd.concat(pairs, ignore_index=True)
    complete = pairs.groupby("arm")["pool"].nunique()
    pairs = pairs[pairs["arm"].map(complete) == complete.max()]  # arms run on every pool only
    pools = sorted(pairs["pool"].unique())
    table = _paired_table(pairs, reference, ["top", "arm"], "scaled")
    return [
        f"## All single-objective pools together ({', '.join(pools)})",
        "",
        f"Every (pool, seed) pair against {reference}; the difference in experiments to the first hit is divided by "
        "the experiments random sampling needs in expectation on that pool, so that easy and hard pools weigh alike "
        "(negative: fewer experiments than BayBE; two-sided Wilcoxon signed-rank over all pairs). Medians of the "
        "first hits are over all pairs.",
        "",
        table.to_markdown(index=False, floatfmt=".3g"),
        "",
    ]


def merge_from(name: str, src: Path) -> dict:
    """Merge the arms of another result folder of ``name`` (same protocol, e.g. run from a
    copy of this harness at the same time) into ``results/<name>``."""
    from types import SimpleNamespace

    meta = json.loads((src / "metadata.json").read_text())
    result = SimpleNamespace(**{k: pd.read_csv(src / f"{k}.csv") for k in ("runs", "curves", "summary")})
    out = RESULTS / name
    merged = _merge_into(out, result, meta)
    (out / "metadata.json").write_text(json.dumps(merged, indent=2, default=str))
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=NAMES, choices=NAMES)
    parser.add_argument("--arms", nargs="+", default=["random", "greedy@rf", "qlognei", "qlognei@rf", "baybe"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--executor", default=None, choices=[None, "local", "processes", "ray"])
    parser.add_argument("--budget", type=int, default=None, help="override every dataset's budget (quick checks)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=None,
        help="results folder (default benchmarks/active/results); e.g. extra seeds (--seed 20) kept apart",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other arms already in results/<dataset>/ and replace only the arms run now",
    )
    parser.add_argument("--merge-from", type=Path, help="merge results/<dataset> of another copy of this harness; runs nothing")
    args = parser.parse_args()
    global RESULTS
    if args.out is not None:
        RESULTS = args.out.resolve()
        RESULTS.mkdir(parents=True, exist_ok=True)
    if args.merge_from is not None:
        for name in args.datasets:
            merge_from(name, args.merge_from / name)
        write_summary()
        return
    for name in args.datasets:
        meta = run_one(name, args)
        failed = len(meta["failed_runs"])
        print(f"{name}: {meta['elapsed_seconds']} s, {failed} failed run(s)", flush=True)
        write_summary()


if __name__ == "__main__":
    main()
