"""Time `build_report` on a campaign with many trials and rows.

Builds a regression campaign from the first ``--rows`` rows of the AgNP pool
(liang2021_pvlab, 5 inputs, minimize ``loss``), runs ``--real-trials`` real trials of the
``fast`` space with ``planner.automl.run_search``, refits and saves the best pipeline, saves a
quality report, then (unless ``--real-trials`` equals ``--trials``) tops the study up to
``--trials`` by re-adding copies of the real trials with their fold scores jittered, so the
report reads as many trials as a long search leaves. The report's own work does not depend
on how the trials were made. Prints a Markdown table of timings.

    python benchmarks/report/bench_report.py --rows 300 --trials 500 --real-trials 40 --repeat 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "liang2021_pvlab" / "AgNP_dataset.csv"


def make_campaign(root: Path, rows: int, trials: int, real_trials: int, seed: int = 0) -> Path:
    import optuna

    from planner.automl import refit, run_search
    from planner.campaign import Campaign
    from planner.layout import QUALITY_DIR, model_dir, study_name
    from planner.quality import assess

    frame = pd.read_csv(DATA).iloc[:rows]
    frame.columns = ["q_agno3_pct", "q_pva_pct", "q_tsc_pct", "q_seed_pct", "q_tot_ul_min", "loss"]
    frame.to_csv(root / "agnp.csv", index=False)
    campaign = Campaign.from_csv(root / "campaign", root / "agnp.csv", ["loss:min"], search_space="fast", seed=seed)
    X, y = frame[campaign.spec.input_names], frame["loss"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_search(X, y, task="regression", search_space="fast", storage_url=campaign.storage_url, study_name=study_name("loss"), n_trials=real_trials, seed=seed)
        refit(study, X, y).save(model_dir(campaign.directory, "loss"))
        assess(campaign.data()[list(frame.columns)], target_columns=["loss"], dataset_name="agnp", explore=False).save(campaign.directory / QUALITY_DIR)
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    rng = np.random.default_rng(seed)
    extra = []
    for k in range(trials - len(study.get_trials(deepcopy=False))):
        t = done[k % len(done)]
        folds = [s * (1 + rng.normal(0, 0.05)) for s in t.user_attrs["fold_scores"]]
        attrs = {**t.user_attrs, "fold_scores": folds, "mean": float(np.mean(folds)), "std": float(np.std(folds)), "source": "benchmark-copy"}
        extra.append(optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=float(np.mean(folds)), user_attrs=attrs))
    study.add_trials(extra)
    return campaign.directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--real-trials", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="copy the campaign and its report here")
    args = parser.parse_args(argv)

    from planner.campaign import Campaign
    from planner.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        directory = make_campaign(Path(tmp), args.rows, args.trials, min(args.real_trials, args.trials))
        setup = time.perf_counter() - start
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = build_report(Campaign.load(directory))
            runs.append((time.perf_counter() - start, result))
        size_mb = result.html_path.stat().st_size / 1e6
        if args.keep:
            shutil.copytree(directory, args.keep, dirs_exist_ok=True)
    totals = [r[0] for r in runs]
    last = runs[-1][1]
    print(f"campaign: {args.rows} rows, {args.trials} trials ({min(args.real_trials, args.trials)} real), set up in {setup:.0f} s; {last.n_figures} figures")
    print(f"python {sys.version.split()[0]}; report.html {size_mb:.1f} MB (plotly.js inlined)")
    print()
    print("| run | build_report wall time (s) |")
    print("| --- | ---: |")
    for i, t in enumerate(totals, 1):
        print(f"| {i} | {t:.1f} |")
    print(f"| median | {statistics.median(totals):.1f} |")
    print()
    print("| step (last run) | seconds |")
    print("| --- | ---: |")
    for name, seconds in last.timings.items():
        print(f"| {name} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
