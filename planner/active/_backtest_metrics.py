"""The numbers of a backtest: the de-duplicated pool, its top sets, and the runs, curves and
summary tables that :func:`~planner.active.backtest` returns (see :mod:`._backtest` for the
metrics' definitions: best-so-far, ``Top%``, ``EF``, ``AF``, first hits, hypervolume)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.active._pareto import pareto_mask
from planner.exceptions import DataQualityWarning, DataValidationError

if TYPE_CHECKING:
    from planner.active._backtest import Arm

__all__ = ["dedupe_pool", "top_rows", "hypervolume", "runs_table", "curves_table", "summary_table", "describe_surrogate"]


# ----------------------------------------------------------------------------------------
# Pool preparation and the top sets
# ----------------------------------------------------------------------------------------


def dedupe_pool(
    pool: pd.DataFrame, inputs: Sequence[str], targets: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Average replicate measurements per unique input (rows with a missing value dropped).

    Returns:
        The de-duplicated pool (``N`` rows, inputs then targets, plus ``n_replicates``) and
        counts for the report.
    """
    missing = [c for c in (*inputs, *targets) if c not in pool.columns]
    if missing:
        raise DataValidationError(f"the backtest pool lacks column(s) {missing}; it has {list(pool.columns)}")
    frame = pool[list(inputs) + list(targets)].copy()
    for t in targets:
        converted = pd.to_numeric(frame[t], errors="coerce")
        bad = converted.isna() & frame[t].notna()
        if bad.any():
            raise DataValidationError(
                f"backtest pool: target {t!r} must be numeric, but row {frame.index[bad.to_numpy()].tolist()[0]!r} holds "
                f"{frame[t][bad].iloc[0]!r}"
            )
        frame[t] = converted
    na = frame.isna().any(axis=1).to_numpy()
    if na.any():
        warnings.warn(
            f"backtest pool: dropped {int(na.sum())} row(s) with a missing value (first {frame.index[na][:5].tolist()})",
            DataQualityWarning,
            stacklevel=3,
        )
        frame = frame[~na]
    # Rows are the same candidate when suggest would match them: numeric inputs equal to 9
    # decimals (row_keys), so that 0.1 + 0.2 and 0.3 are one candidate, not two that suggest
    # cannot tell apart (the last batch of a run would then find the pool used up).
    from planner.active._encoding import row_keys

    numeric = [c for c in inputs if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    keys = row_keys(frame, inputs, [c for c in inputs if c not in numeric])
    grouped = frame.groupby([keys.get_level_values(i) for i in range(keys.nlevels)], sort=False, dropna=False)
    unique = pd.concat([grouped[list(inputs)].first(), grouped[list(targets)].mean()], axis=1).reset_index(drop=True)
    unique["n_replicates"] = grouped.size().to_numpy()
    counts = {"n_rows": int(len(pool)), "n_dropped_missing": int(na.sum()), "n_unique": int(len(unique))}
    return unique, counts


def top_rows(Y: np.ndarray, fractions: Sequence[float]) -> dict[float, np.ndarray]:
    """Rows in the best ``f`` of the pool (``Y`` is ``N`` internal values; ties at the
    threshold included), per fraction."""
    N = len(Y)
    out = {}
    for f in fractions:
        k = max(1, math.ceil(f * N))
        threshold = np.sort(Y)[::-1][k - 1]
        out[f] = np.flatnonzero(Y >= threshold)
    return out


def hypervolume(Y: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by rows of ``Y`` (``n x k``, maximize) above ``ref``."""
    import torch
    from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning

    Y = Y[(Y > ref).all(axis=1)]
    if len(Y) == 0:
        return 0.0
    Y = Y[pareto_mask(Y)]
    part = DominatedPartitioning(
        ref_point=torch.as_tensor(ref, dtype=torch.float64), Y=torch.as_tensor(Y, dtype=torch.float64)
    )
    return float(part.compute_hypervolume())


# ----------------------------------------------------------------------------------------
# Tables of the result
# ----------------------------------------------------------------------------------------


def describe_surrogate(surrogate: Any) -> str:
    return surrogate if isinstance(surrogate, str) else type(surrogate).__name__


def runs_table(
    results: Iterable[dict[str, Any]],
    unique: pd.DataFrame,
    names: list[str],
    signs: np.ndarray,
    top_sets: Mapping[Any, np.ndarray],
    ref: np.ndarray | None,
    hv_pool: float | None,
    budget: int,
) -> pd.DataFrame:
    Y_raw = unique[names].to_numpy(dtype=float)
    Y = Y_raw * signs
    frames = []
    for r in results:
        order = np.asarray(r["order"], dtype=int)
        n = len(order)
        rec: dict[str, Any] = {
            "arm": r["arm"],
            "seed": r["seed"],
            "i": np.arange(1, n + 1),
            "row": order,
            "is_initial": np.arange(n) < r["n_initial"],
        }
        for j, name in enumerate(names):
            rec[name] = Y_raw[order, j]
        if ref is None:
            rec["best_so_far"] = signs[0] * np.maximum.accumulate(Y[order, 0])
        else:
            rec["hv_fraction"] = [hypervolume(Y[order[: i + 1]], ref) / hv_pool for i in range(n)]
        for key, members in top_sets.items():
            hit = np.isin(order, members)
            rec[f"top_{key}_found"] = np.cumsum(hit) / len(members)
        frames.append(pd.DataFrame(rec))
    return pd.concat(frames, ignore_index=True)


def curves_table(runs: pd.DataFrame, top_sets: Mapping[Any, np.ndarray], N: int, is_multi: bool) -> pd.DataFrame:
    value = "hv_fraction" if is_multi else "best_so_far"
    g = runs.groupby(["arm", "i"], sort=False)
    out = pd.DataFrame(
        {
            f"{value}_mean": g[value].mean(),
            f"{value}_median": g[value].median(),
            f"{value}_q25": g[value].quantile(0.25),
            f"{value}_q75": g[value].quantile(0.75),
            "n_runs": g[value].size(),
        }
    )
    for key in top_sets:
        col = f"top_{key}_found"
        out[f"top_{key}_mean"] = g[col].mean()
        if not is_multi:
            expected = out.index.get_level_values("i").to_numpy() / N
            out[f"ef_{key}"] = out[f"top_{key}_mean"] / expected
    return out.reset_index()


def summary_table(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    results: list[dict[str, Any]],
    top_sets: Mapping[Any, np.ndarray],
    N: int,
    af_levels: Sequence[float],
    budget: int,
    is_multi: bool,
    arms: list[Arm],
) -> pd.DataFrame:
    rows = []
    value = "hv_fraction" if is_multi else "best_so_far"
    for arm in arms:
        label = arm.label
        r_arm = runs[runs["arm"] == label]
        c_arm = curves[curves["arm"] == label]
        last = r_arm.groupby("seed")[value].last()
        row: dict[str, Any] = {
            "arm": label,
            "strategy": arm.strategy,
            "surrogate": describe_surrogate(arm.surrogate),
            "n_runs": int(r_arm["seed"].nunique()),
            "n_failed": sum(1 for r in results if r["arm"] == label and r["error"]),
            "fallbacks_per_run": float(np.mean([r["fallbacks"] for r in results if r["arm"] == label])),
            "seconds_per_run": float(np.mean([r["seconds"] for r in results if r["arm"] == label])),
            f"final_{value}_mean": float(last.mean()),
            f"final_{value}_median": float(last.median()),
        }
        for key, members in top_sets.items():
            col = f"top_{key}_found"
            row[f"final_top_{key}_mean"] = float(r_arm.groupby("seed")[col].last().mean())
            first = []
            for _, run in r_arm.groupby("seed"):
                hit = np.flatnonzero(np.isin(run["row"].to_numpy(), members))
                first.append(float(run["i"].to_numpy()[hit[0]]) if len(hit) else math.inf)
            first_arr = np.array(first)
            row[f"first_hit_top_{key}_median"] = (
                float(np.median(first_arr)) if np.isfinite(np.median(first_arr)) else math.nan
            )
            row[f"first_hit_top_{key}_missed"] = int(np.isinf(first_arr).sum())
            if not is_multi:
                row[f"first_hit_top_{key}_random_expected"] = (N + 1) / (len(members) + 1)
                mean_curve = c_arm[f"top_{key}_mean"].to_numpy()
                i_axis = c_arm["i"].to_numpy()
                for level in af_levels:
                    reached = np.flatnonzero(mean_curve >= level - 1e-12)
                    i_random = math.ceil(level * N)
                    row[f"af_top_{key}_at_{level:g}"] = (
                        float(i_random / i_axis[reached[0]]) if len(reached) else math.nan
                    )
        rows.append(row)
    return pd.DataFrame(rows)
