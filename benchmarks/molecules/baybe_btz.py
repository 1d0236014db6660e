"""BayBE with SubstanceParameter encodings on the BTZ pool, paired with backtest_btz.py's arms.

Benchmark environment only (BayBE is never a project dependency), e.g.::

    python -m venv /tmp/venv-baybe
    /tmp/venv-baybe/bin/pip install torch==2.13.0          # first, alone (the CPU build)
    echo "torch==2.13.0" > /tmp/baybe-constraints.txt
    /tmp/venv-baybe/bin/pip install -c /tmp/baybe-constraints.txt "baybe[chem]"   # baybe 0.15.0, scikit-fingerprints 2.1.0
    /tmp/venv-baybe/bin/pip install --no-deps -e .            # planner's backtest harness
    OMP_NUM_THREADS=1 nice -n 15 taskset -c 1 /tmp/venv-baybe/bin/python benchmarks/molecules/baybe_btz.py --encoding RDKIT2DDESCRIPTORS --seeds 20

Same pool (211 unique candidates, canonical SMILES), same harness (``planner.active.backtest``
with an external policy), same seeds, starting rows, batches of 5 and budget 45 as
results/backtest_btz, so the runs pair seed by seed. At each batch a fresh BayBE campaign is
built over the pool: ``SMILES1``/``SMILES2`` are ``SubstanceParameter`` s (the chosen
encoding, BayBE's default decorrelation), the fractions ``NumericalDiscreteParameter`` s; the
measurements so far are added and BayBE's default recommender (its GP + acquisition) proposes
the batch, never an already measured row. The empty second solvent of single-solvent rows
(fraction 0) is a substance label ``none`` with the placeholder SMILES ``[He]`` (BayBE needs a
molecule for every level; its fraction is 0 in every such row).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from common import FRACTIONS, HERE, INPUTS, SMILES, TARGET, btz

NONE_LABEL, NONE_SMILES = "none", "[He]"
ENCODING = {"value": "RDKIT2DDESCRIPTORS"}  # set by main(); read by the policy (same process, n_jobs=1)


def _label(v: object) -> str:
    return v if isinstance(v, str) and v else NONE_LABEL


def baybe_substance_policy(observed_X: pd.DataFrame, observed_y: pd.DataFrame, candidates: pd.DataFrame, targets: Sequence[tuple[str, str]], n: int, seed: int) -> list[int]:
    """``n`` new row labels of ``candidates`` recommended by BayBE with SubstanceParameters."""
    from baybe import Campaign
    from baybe.objectives import SingleTargetObjective
    from baybe.parameters import NumericalDiscreteParameter, SubstanceParameter
    from baybe.searchspace import SearchSpace, SubspaceDiscrete
    from baybe.targets import NumericalTarget
    from baybe.utils.random import set_random_seed

    def table(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[INPUTS].copy()
        for c in SMILES:
            out[c] = out[c].map(_label)
        return out.reset_index(drop=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        set_random_seed(seed % (2**32 - 1))
        cand = table(candidates)
        obs = table(observed_X)
        both = pd.concat([cand, obs], ignore_index=True)
        params = []
        for c in SMILES:
            data = {lv: (NONE_SMILES if lv == NONE_LABEL else lv) for lv in sorted(both[c].unique())}
            params.append(SubstanceParameter(name=c, data=data, encoding=ENCODING["value"]))
        for c in FRACTIONS:
            params.append(NumericalDiscreteParameter(name=c, values=tuple(sorted(both[c].astype(float).unique()))))
        space = SearchSpace(discrete=SubspaceDiscrete.from_dataframe(cand, parameters=params))
        (name, direction), = targets
        objective = SingleTargetObjective(NumericalTarget(name, minimize=(direction == "min")))
        campaign = Campaign(space, objective, allow_recommending_already_measured=False)
        measured = pd.concat([obs, observed_y.reset_index(drop=True)], axis=1)
        campaign.add_measurements(measured, numerical_measurements_must_be_within_tolerance=False)
        rec = campaign.recommend(batch_size=n)
    rec = rec[INPUTS].reset_index(drop=True)
    keyed = cand.reset_index().rename(columns={"index": "_pos"})
    for c in FRACTIONS:
        keyed[c] = keyed[c].astype(float).round(9)
        rec[c] = rec[c].astype(float).round(9)
    lookup = rec.merge(keyed, on=INPUTS, how="left")
    if lookup["_pos"].isna().any() or len(lookup) < n:
        raise RuntimeError(f"BayBE recommended rows that are not in the pool ({int(lookup['_pos'].notna().sum())} of {n} matched)")
    return [candidates.index[int(p)] for p in lookup["_pos"].to_numpy()[:n]]


def main() -> None:
    from planner.active import backtest
    from planner.active._backtest import Arm

    parser = argparse.ArgumentParser()
    parser.add_argument("--encoding", default="RDKIT2DDESCRIPTORS")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed0", type=int, default=0)
    parser.add_argument("--budget", type=int, default=45)
    args = parser.parse_args()
    ENCODING["value"] = args.encoding
    label = f"baybe+{args.encoding.lower()}"
    out = HERE / "results" / f"backtest_btz_{label.replace('+', '_')}"
    out.mkdir(parents=True, exist_ok=True)
    import baybe

    t0 = time.perf_counter()
    result = backtest(btz(), inputs=INPUTS, targets=[(TARGET, "max")], strategies=[Arm(label, strategy="baybe", policy=baybe_substance_policy)], n_seeds=args.seeds,
                      n_initial=5, batch_size=5, budget=args.budget, n_jobs=1, seed=args.seed0, categorical=SMILES, checkpoint=out / "partial_baybe")
    result.runs.to_csv(out / "runs.csv", index=False)
    result.summary.to_csv(out / "summary.csv", index=False)
    sys.path.insert(0, str(HERE))
    from backtest_kernel import paired_table, summary_table

    base = pd.read_csv(HERE / "results" / "backtest_btz" / "runs.csv")
    runs = pd.concat([result.runs, base[base["seed"].isin(result.runs["seed"].unique())]], ignore_index=True)
    seconds = {label: round(float(result.summary["seconds_per_run"].iloc[0]), 1)} if "seconds_per_run" in result.summary else {}
    summary = summary_table(runs, args.budget, seconds)
    lines = []
    for baseline in ("qlognei", "qlognei+desc", "greedy@rf"):
        part = runs[runs["arm"].isin([label, baseline])]
        lines += paired_table(part, args.budget, baseline=baseline)[(2 if lines else 0):]
    meta = {"command": "OMP_NUM_THREADS=1 nice -n 15 taskset -c 1 /tmp/venv-baybe/bin/python " + " ".join(shlex.quote(a) for a in sys.argv),
            "baybe": baybe.__version__, "encoding": args.encoding, "elapsed_seconds": round(time.perf_counter() - t0, 1), "metadata": result.metadata,
            "note": "wall-clock seconds on a shared, loaded 2-core machine, one core, one thread"}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
    (out / "PAIRED.md").write_text(summary.to_markdown(index=False) + "\n\n" + "\n".join(lines) + "\n")
    print(summary.to_string(index=False))
    print("\n".join(lines))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
