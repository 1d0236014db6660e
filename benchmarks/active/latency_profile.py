"""Where the seconds of one steady-state ``suggest(n=5)`` go, phase by phase.

The synthetic problem of ``latency.py`` (6-input uniform pool, Hartmann-6 observations); the
engine's step functions are wrapped with timers (a phase called inside another counts as the
outer one's: the picks' exact posterior is part of "assemble"), ``suggest`` is called ``--calls`` times in one process and every call's
split is printed; the last call is the steady state. Peak RSS of the process at the end.
Run one size per process, pinned to one core::

    taskset -c 1 env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/active/latency_profile.py 100000 200 --calls 3

To profile another checkout's ``planner`` (e.g. ``git archive main planner | tar -x -C /tmp/base``),
run from outside the repository with ``PYTHONPATH=/tmp/base``: the script drops the current
directory from ``sys.path`` so that the package on ``PYTHONPATH`` is the one imported.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd(), str(HERE))]
sys.path.append(str(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

PHASES = [  # (module, attribute, label)
    ("planner.active._run", "check_observations", "check observations"),
    ("planner.active._run", "build_encoder", "encoder (pool range)"),
    ("planner.active._select", "pool_candidates", "exclude measured/pending rows"),
    ("planner.active._fit", "fit_model", "GP fit"),
    ("planner.active._gp:GPSurrogate", "prefilter_moments", "prefilter: posterior of every candidate"),
    ("planner.active._candidates:PoolCandidates", "points", "candidate rows + encoding"),
    ("planner.active._strategies:QLogNEI", "prefilter_score", "prefilter: log EI score"),
    ("planner.active._select", "shortlist", "shortlist"),
    ("planner.active._gp:GPSurrogate", "moments", "exact posterior (shortlist, picks)"),
    ("planner.active._strategies:QLogNEI", "select", "qLogNEI batch over the shortlist"),
    ("planner.active._assemble", "assemble", "assemble table + reasons"),
]


def _install(times: dict[str, float]) -> None:
    import importlib

    depth = [0]  # a phase called inside another phase counts as the outer one's time

    def wrap(owner: object, name: str, label: str) -> None:
        f = getattr(owner, name)

        @functools.wraps(f)
        def timed(*args, **kwargs):
            if depth[0]:
                return f(*args, **kwargs)
            depth[0] += 1
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                depth[0] -= 1
                times[label] = times.get(label, 0.0) + time.perf_counter() - t

        setattr(owner, name, timed)

    for where, name, label in PHASES:
        module, _, cls = where.partition(":")
        owner = importlib.import_module(module)
        wrap(getattr(owner, cls) if cls else owner, name, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pool_size", type=int)
    parser.add_argument("observations", type=int)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--surrogate", default=None, help="suggest's surrogate (default: planner's default)")
    args = parser.parse_args()
    import torch  # noqa: F401 - imported before timing, as in latency.py
    from synthetic import hartmann6, uniform_pool

    import planner
    from planner.active import PoolDesign, suggest

    warnings.simplefilter("ignore")
    times: dict[str, float] = {}
    _install(times)
    N, n_obs = args.pool_size, args.observations
    rng = np.random.default_rng(0)
    pool = uniform_pool(N, seed=0)
    rng.random((N, 6))  # the generator's stream of latency.py
    design = PoolDesign(pool)
    obs = pd.DataFrame(np.random.default_rng(1).random((n_obs, 6)), columns=pool.columns)
    y = pd.DataFrame({"y": hartmann6(obs.to_numpy()) * (1 + 0.01 * rng.standard_normal(n_obs))})
    extra = {} if args.surrogate is None else {"surrogate": args.surrogate}
    load0 = os.getloadavg()[0]
    for call in range(1, args.calls + 1):
        times.clear()
        t = time.perf_counter()
        result = suggest(obs, y, design=design, targets=[("y", "max")], n=5, seed=0, n_threads=1, **extra)
        total = time.perf_counter() - t
        split = {k: round(v, 3) for k, v in times.items()}
        split["other"] = round(total - sum(times.values()), 3)
        print(json.dumps({"call": call, "total_s": round(total, 3), "phases_s": split}), flush=True)
    print(json.dumps({
        "code": str(Path(planner.__file__).parent),
        "picks": result.table["candidate"].tolist(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_avg_1min": round((load0 + os.getloadavg()[0]) / 2, 1),
    }))


if __name__ == "__main__":
    main()
