"""The default arm paired against greedy RF and BayBE on the committed headline runs.

Reads ``results/<pool>/runs.csv`` (20 seeds, base seed 0, written by ``run_backtests.py``; no
new runs) and writes ``results/ablation/DEFAULT_VS_REFERENCES.md``: per single-objective pool,
the default ``qlognei@gp-additive`` (``suggest``'s default: the GP with the ARD plus additive
Matern kernel, qLogNEI) against ``greedy@rf``, ``baybe``, the plain-Matern GP ``qlognei`` and
the ``portfolio`` (the default before: half of each batch from the plain GP, the rest from a
random forest), paired per seed (same starting rows), experiments to the first top-1% / top-5%
hit, two-sided Wilcoxon signed-rank.

Usage::

    python benchmarks/active/default_vs_references.py
    python benchmarks/active/default_vs_references.py --extra-seeds

``--extra-seeds``: the pools that also have ``results/extra_seeds/<pool>/runs.csv`` (seeds 20-39,
``run_backtests.py --seed 20 --out benchmarks/active/results/extra_seeds``), each arm's 40 seeds
paired together; writes ``results/extra_seeds/FORTY_SEEDS.md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

POOLS = ["agnp", "autoam", "crossed_barrel", "oer_3496", "oer_3851", "btz"]
#: ``suggest``'s default as a backtest arm (``planner.active.DEFAULT_SURROGATE`` with qLogNEI).
DEFAULT_ARM = "qlognei@gp-additive"


def main() -> None:
    from run_backtests import _paired_first_hits, _paired_table, protocol_difference

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra-seeds", action="store_true", help="add results/extra_seeds/<pool> (40 seeds)")
    args = parser.parse_args()
    extra = HERE / "results" / "extra_seeds"
    rows = []
    for name in POOLS:
        folder = HERE / "results" / name
        runs = pd.read_csv(folder / "runs.csv")
        meta = json.loads((folder / "metadata.json").read_text())
        if args.extra_seeds:
            if not (extra / name / "runs.csv").exists():
                continue
            more = pd.read_csv(extra / name / "runs.csv")
            more_meta = json.loads((extra / name / "metadata.json").read_text())
            key = protocol_difference(meta, more_meta)
            if key is not None:
                raise SystemExit(f"{extra / name}: {key} differs from the headline's ({more_meta.get(key)} vs {meta.get(key)})")
            if set(more["seed"]) & set(runs["seed"]):
                raise SystemExit(f"{extra / name}: seeds overlap the headline's; run it with --seed 20")
            if not set(more["arm"]) <= set(runs["arm"]):
                raise SystemExit(f"{extra / name}: arms {sorted(set(more['arm']) - set(runs['arm']))} have no headline runs")
            runs = pd.concat([runs[runs["arm"].isin(set(more["arm"]))], more], ignore_index=True)
        for arm, refs in ((DEFAULT_ARM, ("greedy@rf", "baybe", "qlognei", "portfolio")),):
            for ref in refs:
                if ref not in set(runs["arm"]) or arm not in set(runs["arm"]):
                    continue
                pairs = _paired_first_hits(name, runs, int(meta["budget"]), ref, arms=[arm])
                table = _paired_table(pairs, ref, ["top", "arm"], "diff")
                rows.append(
                    table.rename(columns={f"{ref}_median_first_hit": "reference_median"}).assign(pool=name, reference=ref)
                )
    table = pd.concat(rows, ignore_index=True)
    cols = ["pool", "arm", "reference", "top", "median_first_hit", "reference_median", "median_paired_difference",
            "seeds_fewer/tie/more", "wilcoxon_p"]
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    out = extra / "FORTY_SEEDS.md" if args.extra_seeds else HERE / "results" / "ablation" / "DEFAULT_VS_REFERENCES.md"
    source = (
        "reads `results/<pool>/runs.csv` (seeds 0-19) and `results/extra_seeds/<pool>/runs.csv` (seeds 20-39): "
        "40 seeds per arm" if args.extra_seeds else "reads the committed `results/<pool>/runs.csv`, 20 seeds each"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# The default (the GP with the additive kernel, qLogNEI) against greedy RF, BayBE, the plain GP and the "
        f"portfolio on the {'headline runs and the extra seeds' if args.extra_seeds else 'headline runs'}\n\n"
        f"- command: `{command}` ({source}; no new runs)\n"
        f"- `{DEFAULT_ARM}` is `suggest`'s default (`surrogate='gp-additive'`); `qlognei` is the plain-Matern GP "
        "(the default until issue 14), `portfolio` half plain GP, half random forest (the default during issue 14).\n"
        "- `median_first_hit`: the arm's median experiments to the first hit; negative differences: the "
        "arm needed fewer than the reference; a seed without a hit counts budget + 1.\n\n"
        + table[cols].to_markdown(index=False, floatfmt=".3g") + "\n"
    )
    print(out.read_text())


if __name__ == "__main__":
    main()
