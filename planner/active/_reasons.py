"""One-line reasons for suggestions, for the campaign's log and its users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["reasons"]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def reasons(
    kind: str,
    prob: Any,
    mean: np.ndarray | None,
    var: np.ndarray | None,
    ref_mean: np.ndarray | None,
    ref_var: np.ndarray | None,
    outputs: Sequence[str],
    signs: np.ndarray,
    space_filling_why: str,
    n: int,
) -> list[str]:
    if kind == "random":
        return ["random baseline: drawn uniformly from the remaining candidates"] * n
    if kind == "space-filling":
        return [f"space-filling: far from measured and pending points ({space_filling_why})"] * n
    from planner.active._pareto import pareto_mask

    out = []
    std = np.sqrt(var)
    ref_std_score = np.sort(prob.std_score(ref_var)) if ref_var is not None and len(ref_var) else None
    obj = prob.objectives
    feas = np.exp(prob.log_p_feasible(mean, var)) if prob.constraints else None
    for i in range(n):
        desc = ", ".join(f"{outputs[j]} {_fmt(signs[j] * mean[i, j])} ± {_fmt(std[i, j])}" for j in obj)
        unc_pct = (
            np.searchsorted(ref_std_score, prob.std_score(var[i : i + 1])[0], side="right") / len(ref_std_score)
            if ref_std_score is not None
            else 0.5
        )
        if prob.is_multi_objective:
            front = prob.observed_front()
            extends = len(front) == 0 or bool(pareto_mask(np.vstack([front, mean[i, obj]]))[-1])
            if kind != "uncertainty" and extends:
                text = f"extends the Pareto front: predicted {desc}"
            elif kind == "value":
                text = f"high predicted value (near the Pareto front): predicted {desc}"
            else:
                text = f"high uncertainty: predicted {desc}; uncertainty above {unc_pct:.0%} of candidates"
        else:
            j = obj[0]
            ref = np.sort(ref_mean[:, j]) if ref_mean is not None and len(ref_mean) else None
            val_pct = np.searchsorted(ref, mean[i, j], side="right") / len(ref) if ref is not None else 0.5
            best = signs[j] * prob.best_observed
            if kind == "uncertainty" or (kind == "auto" and unc_pct > val_pct):
                text = f"high uncertainty: predicted {desc}, uncertainty above {unc_pct:.0%} of candidates (best measured {_fmt(best)})"
            else:
                text = f"high predicted value: predicted {desc}, above {val_pct:.0%} of candidates (best measured {_fmt(best)})"
        if feas is not None:
            text += f"; P(constraints met) {feas[i]:.2f}"
        out.append(text)
    return out
