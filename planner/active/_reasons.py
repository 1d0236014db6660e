"""One-line reasons for suggestions, for the campaign's log and its users."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["reasons"]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _better_share(ref: np.ndarray | None, value: float) -> str:
    """Share of the scored candidates predicted strictly worse, rounded down (the pick itself
    is among them, so the best reads "better than 99 %", never "100 %")."""
    if ref is None:
        return "50 %"
    worse = int(np.count_nonzero(ref < value))
    return f"{math.floor(100 * worse / len(ref))} %"


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
    """One line per pick, starting with what drove it.

    Args:
        kind: The strategy's :class:`~planner.active.Selection` kind.
        prob: The :class:`~planner.active.Problem` (internal orientation).
        mean: Posterior mean of the picks, ``n x m`` (``None`` without a model).
        var: Posterior variance of the picks, ``n x m``.
        ref_mean: Posterior mean of the scored candidates, ``N x m``, for percentiles.
        ref_var: Their posterior variance (an upper bound where the prefilter bounded it).
        outputs: Output names.
        signs: ``+1``/``-1`` per output, to report values in the data's direction.
        space_filling_why: Why no model was fitted, for space-filling picks.
        n: Number of picks.
    """
    if kind == "random":
        return ["random baseline: drawn uniformly from the remaining candidates"] * n
    if kind == "space-filling":
        return [f"space-filling: far from measured and pending points ({space_filling_why})"] * n
    from planner.active._pareto import pareto_mask

    out = []
    std = np.sqrt(var)
    # Shares are counts over the scored candidates (no sort: pools reach millions of rows).
    ref_std_score = prob.std_score(ref_var) if ref_var is not None and len(ref_var) else None
    obj = prob.objectives
    feas = np.exp(prob.log_p_feasible(mean, var)) if prob.constraints else None
    front = prob.observed_front() if prob.is_multi_objective else None
    ref_value = ref_mean[:, obj[0]] if ref_mean is not None and len(ref_mean) else None
    for i in range(n):
        desc = ", ".join(f"{outputs[j]} {_fmt(signs[j] * mean[i, j])} ± {_fmt(std[i, j])}" for j in obj)
        # Strictly below, like the value share: the pick is among the scored candidates, so the
        # most uncertain one reads "above 99 %", never "100 %".
        unc_pct = (
            np.count_nonzero(ref_std_score < prob.std_score(var[i : i + 1])[0]) / len(ref_std_score)
            if ref_std_score is not None
            else 0.5
        )
        unc_text = f"{math.floor(100 * unc_pct)} %"
        if front is not None:
            extends = len(front) == 0 or bool(pareto_mask(np.vstack([front, mean[i, obj]]))[-1])
            if kind != "uncertainty" and extends:
                text = f"extends the Pareto front: predicted {desc}"
            elif kind in ("value", "pareto"):
                text = f"high predicted value (near the Pareto front): predicted {desc}"
            else:
                text = f"high uncertainty: predicted {desc}; uncertainty above {unc_text} of candidates"
        else:
            j = obj[0]
            val_pct = np.count_nonzero(ref_value < mean[i, j]) / len(ref_value) if ref_value is not None else 0.5
            best = f"best measured {_fmt(signs[j] * prob.best_observed)}"
            # Internally larger is better, so the share reads right for minimised targets too.
            better = _better_share(ref_value, mean[i, j])
            value_head = "high predicted value" if signs[j] > 0 else "low predicted value"
            if ref_value is not None and len(ref_value) <= n:
                text = f"one of the last candidates (the batch takes every one left): predicted {desc} ({best})"
            elif kind == "uncertainty" or (kind == "auto" and unc_pct > val_pct and unc_pct >= 0.5):
                text = f"high uncertainty: predicted {desc}, uncertainty above {unc_text} of candidates ({best})"
            elif kind == "auto" and val_pct < 0.5:
                # Neither alone explains it: the acquisition weighs both (and the batch's pending picks).
                text = (
                    f"value and uncertainty together: predicted {desc}, better than {better} and more uncertain "
                    f"than {unc_text} of candidates ({best})"
                )
            else:
                text = f"{value_head}: predicted {desc}, better than {better} of candidates ({best})"
        if feas is not None:
            text += f"; P({prob.feasibility_label}) {feas[i]:.2f}"
        out.append(text)
    return out
