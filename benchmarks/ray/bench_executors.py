"""Ray executor vs local: per-trial overhead, scaling with workers, Ray's idle memory.

Run from the repository root (any worker counts; on a 16+ core machine add e.g. 4 8 16):

    python benchmarks/ray/bench_executors.py --workers 1 2 --out benchmarks/ray/RESULTS.md

Trials are fixed amounts of CPU work (a loop calibrated to ``--trial-seconds`` on one
idle core) passed a dataset handle the way the search passes ``X``/``y``; the driver keeps
N trials in flight, as ``run_search`` does. Local and Ray runs alternate (``--repeats``) so
that load from other processes hits both alike; compare ratios, not absolute times.
A second overhead row runs the real AutoML search (``fast`` space, Kim et al. CE data)
with one worker, local vs Ray; both evaluate the same trials (same seed).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

_LOOPS_PER_S: float | None = None


def spin(n_loops: int) -> int:
    x = 0
    for i in range(n_loops):
        x += i * i % 7
    return x


def calibrate(seconds: float) -> int:
    n = 200_000
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        spin(n)
        best = min(best, time.perf_counter() - t0)
    return int(n * seconds / best)


def trial(X: np.ndarray, n_loops: int) -> float:
    """A stand-in for evaluate_pipeline: touches the shared data, then computes."""
    spin(n_loops)
    return float(X[:, 0].mean())


def drive(executor, n_trials: int, n_workers: int, X: np.ndarray, n_loops: int) -> float:
    """Keep ``n_workers`` trials in flight until ``n_trials`` are done; wall seconds."""
    t0 = time.perf_counter()
    X_ref = executor.put(X)
    in_flight: set[cf.Future] = set()
    started = 0
    while started < n_trials or in_flight:
        while started < n_trials and len(in_flight) < n_workers:
            in_flight.add(executor.submit(trial, X_ref, n_loops))
            started += 1
        done, in_flight = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
        for f in done:
            f.result()
    return time.perf_counter() - t0


def noop() -> int:
    return 1


def round_trip_ms(executor, n: int = 50) -> float:
    """Submit-and-wait of a no-op task: the executor's own cost per trial."""
    executor.submit(noop).result()
    t0 = time.perf_counter()
    for _ in range(n):
        executor.submit(noop).result()
    return 1000 * (time.perf_counter() - t0) / n


def ray_processes_rss_mib() -> tuple[float, int, dict[str, float]]:
    import psutil

    total, n, by_kind = 0.0, 0, {}
    for p in psutil.Process().children(recursive=True):
        try:
            rss = p.memory_info().rss / 2**20
            name = p.name()
        except psutil.Error:
            continue
        total += rss
        n += 1
        if name in ("raylet", "gcs_server"):
            kind = name
        elif name.startswith("ray::") or "default_worker.py" in " ".join(p.cmdline()[:3]):
            kind = "workers"
        else:
            kind = "agents/monitors"
        by_kind[kind] = by_kind.get(kind, 0.0) + rss
    return total, n, by_kind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--trial-seconds", type=float, default=1.0)
    ap.add_argument("--trials-per-worker", type=int, default=6)
    ap.add_argument("--overhead-trials", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--search-trials", type=int, default=8, help="real AutoML search trials (0: skip)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import psutil
    import ray

    from planner.executors import LocalExecutor, ProcessExecutor, RayExecutor

    n_loops = calibrate(args.trial_seconds)
    X = np.random.default_rng(0).normal(size=(20_000, 50))  # 8 MB, put once per run
    max_w = max(args.workers)
    lines = []
    cmd = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])

    # 1. Ray's memory on start (idle, after a first task so that one worker exists)
    driver = psutil.Process()
    rss_before = driver.memory_info().rss / 2**20
    t0 = time.perf_counter()
    ray_ex = RayExecutor(max_w, temp_dir=tempfile.mkdtemp(prefix="planner-ray-"))
    ray_ex.submit(trial, X[:10], 1).result()
    start_s = time.perf_counter() - t0
    time.sleep(3)
    rss_total, n_procs, by_kind = ray_processes_rss_mib()
    driver_delta = driver.memory_info().rss / 2**20 - rss_before
    ray_ex.shutdown()

    # 2. Per-trial overhead: 1 worker, serial local vs Ray, alternating
    local_s, ray_s = [], []
    ray_ex = RayExecutor(1)
    drive(ray_ex, 1, 1, X, 1)  # warm: Ray started, one worker process up
    rt_ray, rt_local = round_trip_ms(ray_ex), round_trip_ms(LocalExecutor())
    for _ in range(args.repeats):
        local_s.append(drive(LocalExecutor(), args.overhead_trials, 1, X, n_loops) / args.overhead_trials)
        ray_s.append(drive(ray_ex, args.overhead_trials, 1, X, n_loops) / args.overhead_trials)
    ray_ex.shutdown()
    t_local, t_ray = statistics.median(local_s), statistics.median(ray_s)

    # 3. Real search, 1 worker: same trials on both
    search_row = None
    if args.search_trials:
        from planner.automl import run_search

        folder = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kim2023_pnas_electrolyte_ce"  # beside the repository
        Xs, ys = pd.read_csv(folder / "CE_X.csv"), pd.read_csv(folder / "CE_y.csv")["LCE"]
        kw = dict(task="regression", search_space="fast", study_name="b", n_trials=args.search_trials, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            ray_ex = RayExecutor(1)
            ray_ex.submit(trial, X[:10], 1).result()
            s_local, s_ray = [], []
            for r in range(args.repeats):
                t0 = time.perf_counter()
                run_search(Xs, ys, storage_url=f"sqlite:///{tmp}/l{r}.db", **kw)
                s_local.append((time.perf_counter() - t0) / args.search_trials)
                t0 = time.perf_counter()
                run_search(Xs, ys, storage_url=f"sqlite:///{tmp}/r{r}.db", executor=ray_ex, n_workers=1, **kw)
                s_ray.append((time.perf_counter() - t0) / args.search_trials)
            ray_ex.shutdown()
        search_row = (statistics.median(s_local), statistics.median(s_ray))

    # 4. Scaling: fixed work per trial, trials per minute with each worker count
    scale = []
    for w in args.workers:
        n = args.trials_per_worker * w
        ray_ex = RayExecutor(w)
        drive(ray_ex, w, w, X, 1)  # start Ray and w worker processes
        pool = ProcessExecutor(w) if w > 1 else LocalExecutor()
        drive(pool, w, w, X, 1)
        r_t, l_t = [], []
        for _ in range(args.repeats):
            l_t.append(drive(pool, n, w, X, n_loops))
            r_t.append(drive(ray_ex, n, w, X, n_loops))
        ray_ex.shutdown()
        pool.shutdown()
        scale.append((w, 60 * n / statistics.median(l_t), 60 * n / statistics.median(r_t)))

    base_l, base_r = scale[0][1] / scale[0][0], scale[0][2] / scale[0][0]
    lines += [
        "# Ray executor benchmark",
        "",
        f"Command: `{cmd}`",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} logical cores, ray {ray.__version__}, Python {platform.python_version()}. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (other jobs share the machine). "
        f"Trial = {args.trial_seconds:g} s of calibrated CPU work on an idle core; medians of {args.repeats} alternating repeats.",
        "",
        "## Per-trial overhead (1 worker)",
        "",
        "| workload | local s/trial | ray s/trial | ray / local | overhead |",
        "|---|---|---|---|---|",
        f"| no-op task, submit + wait, 50 times | {rt_local / 1000:.5f} | {rt_ray / 1000:.5f} | - | {rt_ray:.1f} ms per trial = {rt_ray / (10 * args.trial_seconds):.2f}% of a {args.trial_seconds:g} s trial |",
        f"| synthetic {args.trial_seconds:g} s trial, {args.overhead_trials} trials | {t_local:.3f} | {t_ray:.3f} | {t_ray / t_local:.3f} | {100 * (t_ray - t_local) / t_local:+.1f}% |",
    ]
    if search_row:
        lines.append(
            f"| run_search, `fast` space, Kim CE (150 rows), {args.search_trials} trials | {search_row[0]:.3f} | {search_row[1]:.3f} | "
            f"{search_row[1] / search_row[0]:.3f} | {100 * (search_row[1] - search_row[0]) / search_row[0]:+.1f}% |"
        )
    lines += [
        "",
        f"Ray start-up (once per run, not per trial): {start_s:.1f} s to the first result.",
        "",
        "## Scaling (fixed work per trial, N trials in flight)",
        "",
        "| workers | local trials/min | local efficiency | ray trials/min | ray efficiency |",
        "|---|---|---|---|---|",
    ]
    for w, tl, tr in scale:
        lines.append(f"| {w} | {tl:.1f} | {tl / (w * base_l):.2f} | {tr:.1f} | {tr / (w * base_r):.2f} |")
    lines += [
        "",
        "Local: serial with 1 worker, a spawn process pool above. Efficiency = trials/min / (workers x trials/min of 1 worker).",
        "",
        f"## Ray's memory on start (num_cpus={max_w}, idle, one worker process started)",
        "",
        f"- Ray processes (GCS, raylet, agents, workers; {n_procs} processes): **{rss_total:.0f} MiB** RSS in total",
        "- by process: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])),
        f"- driver growth from `ray.init` and the first task: {driver_delta:.0f} MiB",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
