"""An ablation arm on 40 headline seeds: seeds 0-19 from ``results/headline_arms`` and seeds
20-39 from ``results/extra_seeds`` (planner's own arm there), paired with the references' 40.

The headline seeds of the arm ran as an ablation arm (``headline_arm.py --arm additive``); the
extra seeds as planner's option that implements it (``run_backtests.py --arms
qlognei@gp-additive --seed 20 --out benchmarks/active/results/extra_seeds``). Both are the same
model (``planner/active/_kernels.py``; same suggestions to rounding). No new runs.

Usage::

    python benchmarks/active/forty_seeds_arm.py --headline-arm additive --extra-arm qlognei@gp-additive --datasets agnp autoam

Writes ``results/extra_seeds/FORTY_SEEDS_<extra-arm>.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    import json

    from run_backtests import _paired_first_hits, _paired_table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--headline-arm", required=True)
    parser.add_argument("--extra-arm", required=True)
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--references", nargs="+", default=["baybe", "greedy@rf", "portfolio", "qlognei"])
    args = parser.parse_args()
    label = args.extra_arm
    tables = []
    for name in args.datasets:
        head = pd.read_csv(HERE / "results" / name / "runs.csv")
        arm_head = pd.read_csv(HERE / "results" / "headline_arms" / f"{name}_runs.csv")
        extra = pd.read_csv(HERE / "results" / "extra_seeds" / name / "runs.csv")
        meta = json.loads((HERE / "results" / name / "metadata.json").read_text())
        arm_runs = pd.concat(
            [arm_head[arm_head["arm"] == args.headline_arm], extra[extra["arm"] == args.extra_arm]], ignore_index=True
        ).assign(arm=label)
        seeds = sorted(arm_runs["seed"].unique())
        if seeds != list(range(40)):
            raise SystemExit(f"{name}: the arm has seeds {seeds[:3]}..{seeds[-3:]}, not 0-39")
        for ref in args.references:
            ref_runs = pd.concat([head[head["arm"] == ref], extra[extra["arm"] == ref]], ignore_index=True)
            if sorted(ref_runs["seed"].unique()) != seeds:
                print(f"{name}: {ref} lacks some of the 40 seeds; skipped", file=sys.stderr)
                continue
            runs = pd.concat([arm_runs, ref_runs], ignore_index=True)
            pairs = _paired_first_hits(name, runs, int(meta["budget"]), ref, arms=[label])
            table = _paired_table(pairs, ref, ["pool", "arm", "top"], "diff").rename(
                columns={f"{ref}_median_first_hit": "reference_median"}
            )
            tables.append(table.assign(reference=ref, seeds=40))
    out = pd.concat(tables, ignore_index=True)
    cols = ["pool", "seeds", "arm", "reference", "top", "median_first_hit", "reference_median",
            "median_paired_difference", "seeds_fewer/tie/more", "wilcoxon_p"]
    out = out[cols]
    path = HERE / "results" / "extra_seeds" / f"FORTY_SEEDS_{label.replace('@', '_')}.md"
    command = "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/active/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    path.write_text(
        f"# `{label}` on 40 seeds (0-19 headline, 20-39 extra) against the references\n\n"
        f"command: `{command}` (no new runs; see the docstring for the runs it reads). Experiments to the "
        "first top-1% / top-5% hit; negative differences: the arm needed fewer; a seed without a hit counts "
        "budget + 1; two-sided Wilcoxon signed-rank.\n\n" + out.to_markdown(index=False) + "\n"
    )
    print(out.to_string(index=False))


if __name__ == "__main__":
    main()
