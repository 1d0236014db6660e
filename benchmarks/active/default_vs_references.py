"""The default arm paired against greedy RF and BayBE on the committed headline runs.

Reads ``results/<pool>/runs.csv`` (20 seeds, base seed 0, written by ``run_backtests.py``; no
new runs) and writes ``results/ablation/DEFAULT_VS_REFERENCES.md``: per single-objective pool,
the default ``portfolio`` (``suggest``'s default since issue 14: half of each batch from the
GP, the rest from a random forest) and the GP alone ``qlognei`` (the default before) against
``greedy@rf``, ``baybe`` and each other, paired per seed (same starting rows), experiments to
the first top-1% / top-5% hit, two-sided Wilcoxon signed-rank.

Usage::

    python benchmarks/active/default_vs_references.py
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

POOLS = ["agnp", "autoam", "crossed_barrel", "oer_3496", "oer_3851", "btz"]


def main() -> None:
    from run_backtests import _paired_first_hits, _paired_table

    rows = []
    for name in POOLS:
        folder = HERE / "results" / name
        runs = pd.read_csv(folder / "runs.csv")
        meta = json.loads((folder / "metadata.json").read_text())
        for arm, refs in (("portfolio", ("greedy@rf", "baybe", "qlognei")), ("qlognei", ("greedy@rf", "baybe"))):
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
    out = HERE / "results" / "ablation" / "DEFAULT_VS_REFERENCES.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# The default (portfolio: GP and random forest, qLogNEI) and the GP alone against greedy RF and "
        "BayBE on the headline runs\n\n"
        f"- command: `{command}` (reads the committed `results/<pool>/runs.csv`, 20 seeds each; no new runs)\n"
        "- `portfolio` is `suggest`'s default since issue 14; `qlognei` is the GP alone, the default before.\n"
        "- `median_first_hit`: the arm's median experiments to the first hit; negative differences: the "
        "arm needed fewer than the reference; a seed without a hit counts budget + 1.\n\n"
        + table[cols].to_markdown(index=False, floatfmt=".3g") + "\n"
    )
    print(out.read_text())


if __name__ == "__main__":
    main()
