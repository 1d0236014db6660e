"""Every stored BTZ backtest arm on the standard seeds 0-19 in one table, paired against the GP
that `planner suggest` uses (qlognei+minmax) and against the one-hot GP. Reads only committed
runs.csv files (no new runs):

    python benchmarks/molecules/compare_btz.py
"""

from __future__ import annotations

import json
import shlex
import sys

import pandas as pd
from backtest_kernel import paired_table, summary_table
from common import HERE

FOLDERS = ["backtest_btz", "backtest_btz_compact_onehot", "backtest_btz_confirm", "backtest_btz_baybe_rdkit2ddescriptors", "backtest_btz_baybe_ecfp", "backtest_btz_baybe_mordred"]


def main() -> None:
    parts = []
    for folder in FOLDERS:
        path = HERE / "results" / folder / "runs.csv"
        if path.exists():
            runs = pd.read_csv(path)
            parts.append(runs[runs["seed"].between(0, 19)])
    runs = pd.concat(parts, ignore_index=True).drop_duplicates(["arm", "seed", "i"])
    out = HERE / "results" / "btz_all_arms"
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_table(runs, 45, {}).drop(columns="s_per_run").sort_values("final_best_mean", ascending=False)
    lines = []
    for baseline in ("qlognei+minmax", "qlognei"):
        lines += ["", f"Paired against {baseline}:", ""] + paired_table(runs, 45, baseline=baseline)
    (out / "PAIRED.md").write_text(summary.to_markdown(index=False) + "\n" + "\n".join(lines) + "\n")
    (out / "metadata.json").write_text(json.dumps({"command": "python " + " ".join(shlex.quote(a) for a in sys.argv), "folders": FOLDERS, "seeds": [0, 19]}, indent=2))
    print(summary.to_string(index=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
