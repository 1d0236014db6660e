"""``backtest``: simulate campaigns on a fully labelled pool and score the strategies.

For each arm (strategy + surrogate) and seed: start from ``n_initial`` random pool rows (the
same rows for every arm of a seed), then ask :func:`~planner.active.suggest` for
``batch_size`` experiments at a time, reveal their true values, and repeat until ``budget``
experiments (initial ones included). Replicates in the pool are averaged per unique input
first. Runs are independent and go to an executor (local processes by default, Ray when
asked); stages here never import Ray.

Metrics (Liang et al. 2021, npj Comput Mater 7, 188; Rohr et al. 2020):

- best-so-far vs number of experiments ``i``;
- ``Top%(i)``: the share of the pool's top ``f`` (e.g. 5%) found after ``i`` experiments;
- ``EF(i) = Top%_strategy(i) / Top%_random(i)``; ``Top%_random(i) = i / N`` is the exact
  expectation of random sampling without replacement from ``N`` candidates;
- ``AF(L) = i_random(L) / i_strategy(L)``, the experiments random needs (``ceil(L N)`` in
  expectation) over those the strategy needs (first ``i`` where its mean ``Top%`` reaches
  ``L``) for the same ``Top% = L``;
- median experiments to the first hit of the top 1% and top 5%;
- several targets: the hypervolume of what was found, relative to the whole pool's.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.active._backtest_metrics import (
    curves_table,
    dedupe_pool,
    describe_surrogate,
    hypervolume,
    runs_table,
    summary_table,
    top_rows,
)
from planner.active._pareto import pareto_mask
from planner.active._specs import Target, parse_targets
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError

__all__ = ["Arm", "BacktestResult", "backtest", "dedupe_pool"]


@dataclass(frozen=True)
class Arm:
    """One backtested combination of acquisition strategy and surrogate.

    Attributes:
        label: Name in the results (default ``"strategy@surrogate"``).
        strategy: A registered strategy name.
        surrogate: ``"gp"``, ``"rf"``, ``"et"`` or a scikit-learn regressor/pipeline (cloned
            and refitted at every iteration).
        options: Further keyword arguments of :func:`suggest` (``beta``, ...).
        policy: Instead of :func:`suggest`, an external recommender (another library, for a
            side-by-side comparison) called as ``policy(observed_X, observed_y, candidates,
            targets, n, seed)`` that returns ``n`` index labels of ``candidates`` not yet
            observed. It must be picklable (a module-level function) for process executors.
    """

    label: str
    strategy: str = "qlognei"
    surrogate: Any = "gp"
    options: Mapping[str, Any] = field(default_factory=dict)
    policy: Callable[..., Sequence[int]] | None = None

    @classmethod
    def parse(cls, spec: str | Arm) -> Arm:
        """``"qlognei"`` (GP), ``"greedy@rf"``, ``"random"`` or an :class:`Arm`."""
        if isinstance(spec, Arm):
            return spec
        if not isinstance(spec, str) or not spec:
            raise SpecError(f"a backtest arm is a string like 'qlognei' or 'greedy@rf', or an Arm; got {spec!r}")
        strategy, _, surrogate = spec.partition("@")
        return cls(label=spec, strategy=strategy, surrogate=surrogate or "gp")


def _check_arms(arms: Sequence[Arm], n_targets: int) -> None:
    """Every planner arm names a registered strategy for this many targets and a known
    surrogate: checked before any run, so that a typo is an error, not a failed arm in a table."""
    from planner.active._request import check_surrogate_name
    from planner.active._strategies import strategy_for_targets

    for arm in arms:
        if arm.policy is not None:
            continue
        try:
            strategy_for_targets(arm.strategy, n_targets)
            check_surrogate_name(arm.surrogate)
        except SpecError as err:
            raise SpecError(f"backtest arm {arm.label!r}: {err}") from None


@dataclass(frozen=True)
class BacktestResult:
    """Curves and numbers of a backtest.

    Attributes:
        runs: One row per (arm, seed, experiment): ``arm, seed, i`` (1-based experiment
            number), ``row`` (position in the de-duplicated pool), the true target values,
            ``best_so_far`` (single target; data units) or ``hv_fraction`` (several),
            ``top_<f>_found`` (share of the top ``f`` found so far), ``is_initial``.
        curves: Per arm and ``i``: mean/median/quartiles of best-so-far (or hypervolume
            fraction), mean ``Top%`` per top fraction and ``EF`` against random sampling.
        summary: One row per arm: final best-so-far, final ``Top%``, ``AF`` at several
            ``Top%`` levels, median experiments to the first top-1% and top-5% hit (and how
            many seeds missed within the budget), failed runs, seconds per run.
        metadata: Protocol and pool facts: sizes before/after de-duplication, top-set sizes,
            targets, arms, seeds, budget, batch size, executor.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame
    metadata: Mapping[str, Any]

    def to_dir(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``runs.csv``, ``curves.csv``, ``summary.csv`` and ``metadata.json``
        atomically (each file appears complete or not at all)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("runs", self.runs), ("curves", self.curves), ("summary", self.summary)):
            _atomic_write(out / f"{name}.csv", frame.to_csv(index=False))
        _atomic_write(out / "metadata.json", json.dumps(self.metadata, indent=2, default=str))
        return out


def _atomic_write(path: Path, text: str) -> None:
    from planner.io import atomic_write_text

    atomic_write_text(path, text)


# ----------------------------------------------------------------------------------------
# One simulated campaign (runs in a worker)
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    arm: Arm
    seed: int
    initial: tuple[int, ...]
    pool: pd.DataFrame
    inputs: tuple[str, ...]
    targets: tuple[Target, ...]
    batch_size: int
    budget: int
    categorical: tuple[str, ...] | None
    featurizer: Any


def _next_batch(
    task: _Task, design: Any, observed: pd.DataFrame, k: int, seed: int
) -> tuple[list[int], tuple[str, ...]]:
    """The next ``k`` pool rows of one run (from :func:`suggest` or the arm's policy) and the
    fallbacks taken."""
    from planner.active._suggest import suggest

    names = [t.name for t in task.targets]
    targets = [(t.name, t.direction) for t in task.targets]
    if task.arm.policy is not None:
        picked = [
            int(i)
            for i in task.arm.policy(
                observed[list(task.inputs)], observed[names], task.pool[list(task.inputs)], targets, k, seed
            )
        ]
        return picked, ()
    result = suggest(
        observed[list(task.inputs)],
        observed[names],
        design=design,
        targets=targets,
        n=k,
        strategy=task.arm.strategy,
        surrogate=task.arm.surrogate,
        featurizer=task.featurizer,
        seed=seed,
        **dict(task.arm.options),
    )
    return [int(c) for c in result.table["candidate"]], result.fallbacks  # the pool has a RangeIndex


def _run_task(task: _Task) -> dict[str, Any]:
    """Simulate one campaign; returns the acquisition order and bookkeeping."""
    from planner.active._specs import PoolDesign

    t0 = time.perf_counter()
    design = PoolDesign(task.pool[list(task.inputs)], categorical=task.categorical)
    order = list(task.initial)
    n_fallbacks = 0
    error = None
    iteration = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(order) < task.budget:
            k = min(task.batch_size, task.budget - len(order))
            try:
                picked, fallbacks = _next_batch(task, design, task.pool.iloc[order], k, task.seed * 100_003 + iteration)
                if len(set(picked)) != k or set(picked) & set(order):
                    raise DataValidationError(f"arm {task.arm.label!r} returned rows {picked}, not {k} new ones")
            except Exception as err:  # noqa: BLE001 - one failed run must not end the benchmark
                error = f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
                break
            n_fallbacks += len(fallbacks)
            order.extend(picked)
            iteration += 1
    return {
        "arm": task.arm.label,
        "seed": task.seed,
        "order": order,
        "n_initial": len(task.initial),
        "fallbacks": n_fallbacks,
        "error": error,
        "seconds": time.perf_counter() - t0,
    }


def _stable(obj: Any) -> Any:
    """A description of ``obj`` that is the same in every process (no memory addresses)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "get_params"):
        params = {k: _stable(v) for k, v in sorted(obj.get_params(deep=False).items())}
        return {"type": type(obj).__qualname__, "params": params}
    if isinstance(obj, (list, tuple)):
        return [_stable(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): _stable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    return f"{type(obj).__module__}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _task_key(task: _Task, pool_digest: str) -> str:
    """Fingerprint of everything a run's result depends on (protocol, pool, arm, seed)."""
    import hashlib

    arm = task.arm
    payload = {
        "arm": arm.label,
        "strategy": arm.strategy,
        "surrogate": _stable(arm.surrogate) if arm.policy is None else None,
        "options": {k: _stable(v) for k, v in sorted(dict(arm.options).items())},
        "policy": getattr(arm.policy, "__qualname__", None) if arm.policy is not None else None,
        "seed": task.seed,
        "initial": list(task.initial),
        "inputs": list(task.inputs),
        "targets": [(t.name, t.direction) for t in task.targets],
        "batch_size": task.batch_size,
        "budget": task.budget,
        "categorical": list(task.categorical) if task.categorical is not None else None,
        "featurizer": _stable(task.featurizer),
        "pool": pool_digest,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _checkpoint_path(folder: Path, task: _Task, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in task.arm.label)
    return folder / f"{safe}__seed{task.seed}__{key}.json"


@dataclass(frozen=True)
class _Checkpointed:
    """Runs a task and, when it finished without error, writes its result into ``folder``
    atomically (a temporary file renamed into place, so a kill never leaves a half-written
    run behind). Picklable, so that any executor's workers write their own runs."""

    folder: str
    pool_digest: str

    def __call__(self, task: _Task) -> dict[str, Any]:
        result = _run_task(task)
        if result["error"] is None:
            path = _checkpoint_path(Path(self.folder), task, _task_key(task, self.pool_digest))
            from planner.io import atomic_write_text

            atomic_write_text(path, json.dumps(result))
        return result


# ----------------------------------------------------------------------------------------
# Executors
# ----------------------------------------------------------------------------------------


def _map(fn: Callable[[Any], Any], items: list[Any], executor: Any, n_jobs: int | None) -> list[Any]:
    """Run ``fn`` over ``items`` on the chosen executor, keeping the order."""
    if executor is None:
        executor = "processes" if (n_jobs or 1) > 1 else "local"
    if executor == "local":
        return [fn(it) for it in items]
    if executor == "processes":
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        workers = n_jobs or max(1, (os.cpu_count() or 2))
        # spawn, not fork: a forked copy of a process that has started torch's thread pools can hang.
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            return list(pool.map(fn, items))
    if executor == "ray":
        from planner.executors import RayExecutor

        # a local Ray instance (or the one already running); a cluster: pass RayExecutor(address=...)
        ray_executor = RayExecutor(n_jobs or max(1, os.cpu_count() or 2))
        try:
            return ray_executor.map(fn, items)
        finally:
            ray_executor.shutdown()
    if hasattr(executor, "map"):
        return list(executor.map(fn, items))
    raise SpecError(
        f"executor must be None, 'local', 'processes', 'ray' or an object with .map (a concurrent.futures "
        f"executor), got {executor!r}"
    )


# ----------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------


def backtest(
    pool: pd.DataFrame,
    *,
    inputs: Sequence[str],
    targets: Sequence[tuple[str, str]] | Mapping[str, str] | Sequence[Target] | str,
    strategies: Sequence[str | Arm] = ("random", "greedy@rf", "qlognei"),
    n_seeds: int = 20,
    n_initial: int = 2,
    batch_size: int = 1,
    budget: int = 50,
    executor: Any = None,
    n_jobs: int | None = None,
    top_fractions: Sequence[float] = (0.01, 0.05),
    af_levels: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
    categorical: Sequence[str] | None = None,
    featurizer: Any = None,
    seed: int = 0,
    checkpoint: str | Path | None = None,
) -> BacktestResult:
    """Simulate campaigns on a fully labelled pool and compare strategies.

    Args:
        pool: Labelled candidates (``rows x columns``); replicates are averaged per unique
            input first.
        inputs: Input columns.
        targets: ``[(name, "max"|"min"), ...]``.
        strategies: Arms: ``"random"``, ``"greedy@rf"``, ``"qlognei"`` (GP), ``"qlognei@rf"``,
            ... or :class:`Arm` objects (e.g. with the AutoML's best pipeline as surrogate).
        n_seeds: Independent runs per arm.
        n_initial: Random starting experiments (the same rows for every arm of a seed).
        batch_size: Experiments per suggestion.
        budget: Total experiments per run, starting ones included; capped at the pool's unique
            candidates (a campaign on a small pool ends when all are measured).
        executor: ``None`` (processes when ``n_jobs > 1``, else in this process),
            ``"local"``, ``"processes"``, ``"ray"``, or an object with ``.map``.
        n_jobs: Parallel workers.
        top_fractions: Top-set sizes for ``Top%``, ``EF`` and first-hit statistics.
        af_levels: ``Top%`` levels at which acceleration factors are reported.
        categorical: Categorical inputs (default: the non-numeric ones).
        featurizer: Passed to :func:`suggest`.
        seed: Base seed of the starting sets and the runs.
        checkpoint: A folder (created if needed) where every finished run is written the
            moment it ends. A backtest that is killed and called again with the same folder
            and protocol reruns only the runs that had not finished; a file is reused only
            when the pool, the arm, the seed's starting rows and the protocol all match.

    Returns:
        A :class:`BacktestResult`.

    Raises:
        SpecError: Bad protocol numbers or arms.
        DataValidationError: Missing columns, or a pool with no more unique candidates than
            ``n_initial``.

    Warns:
        DataQualityWarning: ``budget`` exceeds the pool's unique candidates (every run then
            measures the whole pool; ``metadata["budget"]`` is the pool size).
    """
    specs = parse_targets(targets)
    arms = [Arm.parse(s) for s in strategies]
    labels = [a.label for a in arms]
    if len(set(labels)) != len(labels):
        raise SpecError(f"backtest arms need distinct labels, got {labels}")
    _check_arms(arms, len(specs))
    for name, value, lo in (
        ("n_seeds", n_seeds, 1), ("n_initial", n_initial, 1), ("batch_size", batch_size, 1), ("budget", budget, 2)
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise SpecError(f"{name} must be an integer >= {lo}, got {value!r}")
    budget = int(budget)
    inputs = tuple(inputs)
    names = [t.name for t in specs]
    unique, counts = dedupe_pool(pool, inputs, names)
    N = len(unique)
    if not n_initial < N:
        raise DataValidationError(
            f"the pool has {N} unique candidate(s), not more than n_initial ({n_initial}): nothing would be left to "
            "choose; lower n_initial or use a larger pool"
        )
    budget_asked = budget
    if budget > N:  # a campaign on a small pool ends when every candidate is measured
        budget = N
        warnings.warn(
            f"backtest budget {budget_asked} exceeds the {N} unique candidates of the pool: every run stops when the "
            f"pool is used up, after {N} experiments (metadata 'budget'; 'budget_asked' keeps {budget_asked})",
            DataQualityWarning,
            stacklevel=2,
        )
    if not n_initial < budget:
        raise SpecError(f"budget ({budget}) must exceed n_initial ({n_initial})")
    signs = np.array([t.sign for t in specs])
    Y = unique[names].to_numpy(dtype=float) * signs  # internal: larger is better
    is_multi = len(specs) > 1
    if is_multi:
        front = np.flatnonzero(pareto_mask(Y))
        top_sets = {"pareto": front}
        lo, hi = Y.min(axis=0), Y.max(axis=0)
        ref = lo - 0.1 * np.where(hi > lo, hi - lo, 1.0)
        hv_pool = hypervolume(Y, ref)
    else:
        top_sets = top_rows(Y[:, 0], top_fractions)
        ref, hv_pool = None, None

    rng = np.random.default_rng(seed)
    initial_sets = [tuple(int(i) for i in rng.choice(N, size=n_initial, replace=False)) for _ in range(n_seeds)]
    cat = tuple(categorical) if categorical is not None else None
    pool_frame = unique.drop(columns="n_replicates")
    tasks = [
        _Task(arm, seed + s, initial_sets[s], pool_frame, inputs, specs, int(batch_size), int(budget), cat, featurizer)
        for arm in arms
        for s in range(n_seeds)
    ]
    t0 = time.perf_counter()
    n_resumed = 0
    if checkpoint is None:
        results = _map(_run_task, tasks, executor, n_jobs)
    else:
        folder = Path(checkpoint)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SpecError(f"backtest checkpoint folder {folder}: cannot create it ({err}); pass a writable folder") from err
        digest = str(int(pd.util.hash_pandas_object(pool_frame, index=True).sum() % (2**63)))
        done: dict[int, dict[str, Any]] = {}
        for k, task in enumerate(tasks):
            path = _checkpoint_path(folder, task, _task_key(task, digest))
            if path.exists():
                try:
                    done[k] = json.loads(path.read_text())
                except (OSError, ValueError):
                    continue  # a damaged file: run again
        todo = [k for k in range(len(tasks)) if k not in done]
        fresh = _map(_Checkpointed(str(folder), digest), [tasks[k] for k in todo], executor, n_jobs) if todo else []
        done.update(zip(todo, fresh))
        results = [done[k] for k in range(len(tasks))]
        n_resumed = len(tasks) - len(todo)
    wall = time.perf_counter() - t0

    runs = runs_table(results, unique, names, signs, top_sets, ref, hv_pool, budget)
    curves = curves_table(runs, top_sets, N, is_multi)
    summary = summary_table(runs, curves, results, top_sets, N, af_levels, budget, is_multi, arms)
    metadata = {
        "targets": [(t.name, t.direction) for t in specs],
        "inputs": list(inputs),
        "arms": [
            {
                "label": a.label,
                "strategy": a.strategy if a.policy is None else f"policy {getattr(a.policy, '__name__', a.policy)}",
                "surrogate": describe_surrogate(a.surrogate) if a.policy is None else None,
                "options": dict(a.options),
            }
            for a in arms
        ],
        "n_seeds": n_seeds,
        "n_initial": n_initial,
        "batch_size": batch_size,
        "budget": budget,
        "budget_asked": budget_asked,
        "seed": seed,
        "pool": counts,
        "top_set_sizes": {str(k): int(len(v)) for k, v in top_sets.items()},
        "hypervolume_pool": hv_pool,
        "reference_point": ref.tolist() if ref is not None else None,
        "ef_baseline": "analytic expectation of random sampling without replacement: Top%_random(i) = i / N",
        "executor": executor if isinstance(executor, str) or executor is None else type(executor).__name__,
        "wall_seconds": round(wall, 2),
        "runs_resumed_from_checkpoint": n_resumed,
        "failed_runs": [{"arm": r["arm"], "seed": r["seed"], "error": r["error"]} for r in results if r["error"]],
    }
    if metadata["failed_runs"]:
        warnings.warn(
            f"{len(metadata['failed_runs'])} backtest run(s) stopped early: {metadata['failed_runs'][0]}",
            DataQualityWarning,
            stacklevel=2,
        )
    return BacktestResult(runs=runs, curves=curves, summary=summary, metadata=metadata)
